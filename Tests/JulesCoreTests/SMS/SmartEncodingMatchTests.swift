import Foundation
import Testing

@testable import JulesCore

@Suite struct SmartEncodingMatchTests {
    static let sent = "Here\u{2019}s \u{201C}tonight\u{2019}s\u{201D} plan \u{2014} pasta\u{2026}\u{00A0}OK?"

    @Test(arguments: [
        // Unchanged (Twilio does not Smart-Encode a body it cannot make GSM-7 whole).
        sent,
        // Curly quotes straightened, the dash and the ellipsis replaced, the no-break space a space.
        "Here's \"tonight's\" plan - pasta... OK?",
        // The same with the replacements of Twilio's own segment calculator: two spaces for a no-break space.
        "Here's \"tonight's\" plan - pasta...  OK?",
        // Only some replaced.
        "Here's \u{201C}tonight's\u{201D} plan - pasta\u{2026} OK?",
    ])
    func aSmartEncodedBodyMatches(listed: String) {
        #expect(SmartEncodingMatch.matches(sent: Self.sent, listed: listed))
    }

    @Test(arguments: [
        // Another word, or other punctuation GSM-7 has.
        "Here's \"tonight's\" plan - pizza... OK?",
        "Here's \"tonight's\" plan - pasta... OK!",
        // Something added, or missing.
        "Here's \"tonight's\" plan - pasta... OK? Reply STOP to opt out",
        "Here's \"tonight's\" plan - pasta...",
        "",
    ])
    func anotherBodyDoesNotMatch(listed: String) {
        #expect(!SmartEncodingMatch.matches(sent: Self.sent, listed: listed))
    }

    @Test func replacementsAreShortAndGSM7() {
        // Invisible characters dropped, a tab as seven spaces.
        #expect(SmartEncodingMatch.matches(sent: "A\u{200B}B\tC", listed: "AB       C"))
        // A character GSM-7 has is never replaced.
        #expect(!SmartEncodingMatch.matches(sent: "Plan: soup", listed: "Plan; soup"))
        #expect(!SmartEncodingMatch.matches(sent: "10 €", listed: "10 EUR"))
        // A replacement is GSM-7, and at most eight characters long.
        #expect(!SmartEncodingMatch.matches(sent: "a\u{2014}b", listed: "a\u{2013}\u{2013}b"))
        #expect(SmartEncodingMatch.matches(sent: "a\u{2014}b", listed: "a--------b"))
        #expect(!SmartEncodingMatch.matches(sent: "a\u{2014}b", listed: "a---------b"))
        // Emoji bodies are never Smart-Encoded, and match only themselves.
        #expect(SmartEncodingMatch.matches(sent: "Soup \u{1F372}", listed: "Soup \u{1F372}"))
        #expect(!SmartEncodingMatch.matches(sent: "Soup \u{1F372}", listed: "Soup \u{1F35D}"))
    }

    @Test func aLongBodyOfCharactersGSM7LacksIsMatchedQuickly() {
        let sent = String(repeating: "\u{2019}x\u{201C}", count: 533)
        let listed = String(repeating: "'x\"", count: 533)
        let changed = String(repeating: "'x\"", count: 300) + "'z\"" + String(repeating: "'x\"", count: 232)
        let clock = ContinuousClock()
        let took = clock.measure {
            #expect(SmartEncodingMatch.matches(sent: sent, listed: listed))
            #expect(!SmartEncodingMatch.matches(sent: sent, listed: changed))
        }
        #expect(took < .seconds(5))
    }

    /// A page of Twilio's message list, as the look-up reads it.
    static func page(_ messages: [(sid: String, body: String, from: String, created: String, direction: String)])
        throws -> TwilioProvider.MessagePage
    {
        let items = messages.map { message -> [String: Any] in
            [
                "sid": message.sid, "body": message.body, "from": message.from, "to": "+14155550101",
                "date_created": message.created, "direction": message.direction, "status": "sent",
                "messaging_service_sid": NSNull(),
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: ["messages": items, "next_page_uri": NSNull()])
        return try JSONDecoder().decode(TwilioProvider.MessagePage.self, from: data)
    }

    @Test func theLookUpFindsTheSmartEncodedMessageFromThisSender() throws {
        let recent = "Mon, 30 Nov 2026 10:00:05 +0000"
        let wanted = TwilioProvider.Wanted(
            body: Self.sent, earliest: try #require(TwilioProvider.parseRFC2822("Mon, 30 Nov 2026 10:00:00 +0000")),
            excluding: ["SM" + String(repeating: "1", count: 32)])
        let smartEncoded = "Here's \"tonight's\" plan - pasta... OK?"
        let page = try Self.page([
            // From another number of the account, already matched to another row, a reply the member sent: no.
            ("SM" + String(repeating: "a", count: 32), smartEncoded, "+15005550009", recent, "outbound-api"),
            ("SM" + String(repeating: "1", count: 32), smartEncoded, "+15005550006", recent, "outbound-api"),
            ("SM" + String(repeating: "b", count: 32), smartEncoded, "+15005550006", recent, "inbound"),
            // The one.
            ("SM" + String(repeating: "c", count: 32), smartEncoded, "+15005550006", recent, "outbound-api"),
            // Older than the attempt.
            (
                "SM" + String(repeating: "d", count: 32), smartEncoded, "+15005550006",
                "Mon, 30 Nov 2026 09:50:00 +0000", "outbound-api"
            ),
        ])
        let (receipt, reachedBack) = TwilioProvider.match(
            in: page.messages, wanted, sender: .number("+15005550006"))
        #expect(receipt?.sid == "SM" + String(repeating: "c", count: 32))
        #expect(!reachedBack, "it stopped at the match")
        let (none, older) = TwilioProvider.match(
            in: Array(page.messages.suffix(1)), wanted, sender: .number("+15005550006"))
        #expect(none == nil && older)
    }
}
