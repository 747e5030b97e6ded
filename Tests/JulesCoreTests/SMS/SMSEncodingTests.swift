import Foundation
import JSONRPC
import NIOHTTP1
import Testing

@testable import JulesCore

@Suite struct SMSEncodingTests {
    @Test(arguments: [
        // GSM-7: 160 in one segment, 153 per part beyond.
        ("", SMSEncoding.Alphabet.gsm7, 1),
        (String(repeating: "a", count: 160), .gsm7, 1),
        (String(repeating: "a", count: 161), .gsm7, 2),
        (String(repeating: "a", count: 306), .gsm7, 2),
        (String(repeating: "a", count: 307), .gsm7, 3),
        // Extension characters cost two septets.
        (String(repeating: "€", count: 80), .gsm7, 1),
        (String(repeating: "€", count: 81), .gsm7, 2),
        (String(repeating: "a", count: 159) + "{", .gsm7, 2),
        // An escape pair is never split across parts: 306 septets would fill two parts, but the '[' after 152 'a'
        // moves to part two, which then overflows into a third.
        (String(repeating: "a", count: 152) + "[" + String(repeating: "a", count: 152), .gsm7, 3),
        ("Ça coûte 5 € — ok?", .ucs2, 1),
        ("Café à Åre, ¿qué? ñ ü ß É", .gsm7, 1),
        // UCS-2: 70 in one segment, 67 per part; an emoji is two code units.
        (String(repeating: "ж", count: 70), .ucs2, 1),
        (String(repeating: "ж", count: 71), .ucs2, 2),
        (String(repeating: "ж", count: 134), .ucs2, 2),
        (String(repeating: "ж", count: 135), .ucs2, 3),
        (String(repeating: "👋", count: 35), .ucs2, 1),
        (String(repeating: "👋", count: 36), .ucs2, 2),
        // A surrogate pair is never split: 134 units would fill two parts of 67, but each part holds 33 pairs.
        (String(repeating: "👋", count: 67), .ucs2, 3),
        ("tab\there", .ucs2, 1),
        ("line\nbreak\r\n", .gsm7, 1),
    ])
    func segments(_ body: String, alphabet: SMSEncoding.Alphabet, segments: Int) {
        let encoding = SMSEncoding(body: body)
        #expect(encoding.alphabet == alphabet)
        #expect(encoding.segments == segments)
    }

    @Test func longestBodiesStayWithinTheStoredLimit() {
        #expect(SMSEncoding(body: String(repeating: "a", count: 1600)).segments == 11)
        // 76 escaped characters (152 septets) to a part, and 33 surrogate pairs: 22 and 49 parts, not 21 and 48.
        #expect(SMSEncoding(body: String(repeating: "€", count: 1600)).segments == 22)
        #expect(SMSEncoding(body: String(repeating: "👋", count: 1600)).segments == 49)
    }

    @Test(arguments: [
        ("", "must not be empty"),
        ("  \n ", "must not be empty"),
        (String(repeating: "a", count: 1601), "must be at most 1600 characters"),
        ("bell\u{07}", "must not contain control characters other than line breaks and tabs"),
        ("nul\u{0}", "must not contain control characters other than line breaks and tabs"),
        ("esc\u{1B}[0m", "must not contain control characters other than line breaks and tabs"),
    ])
    func invalidBodies(_ body: String, reason: String) throws {
        let error = try #require(throws: JSONRPCError.self) { _ = try SMSInput.body(body, field: "params.body") }
        #expect(error.code == -32602)
        #expect(error.details["field"] == "params.body")
        #expect(error.details["reason"] == .string(reason))
    }

    @Test func validBodiesAreKeptAsWritten() throws {
        #expect(try SMSInput.body(" Dinner at 7?\n\tReply YES ", field: "f") == " Dinner at 7?\n\tReply YES ")
        #expect(try SMSInput.body(String(repeating: "👋", count: 1600), field: "f").count == 1600)
    }
}

@Suite struct TwilioAnswerTests {
    private func failure(_ status: Int, _ body: String, headers: [(String, String)] = []) -> ProviderFailure {
        TwilioProvider.failure(status: status, headers: HTTPHeaders(headers), body: Data(body.utf8))
    }

    @Test func permanentErrorsAreNotRetried() {
        for code in [21211, 21610, 21614, 21408] {
            let result = failure(
                400,
                #"{"code": \#(code), "message": "nope", "more_info": "https://www.twilio.com/docs/errors/\#(code)", "#
                    + #""status": 400}"#
            )
            #expect(result.kind == .permanent)
            #expect(result.code == code)
            #expect(result.httpStatus == 400)
            #expect(result.message == "nope")
        }
        #expect(failure(400, #"{"code": 21610, "message": "unsubscribed"}"#).isUnsubscribed)
    }

    /// Refusals of the account, not the message: every message would be refused alike.
    @Test func credentialsAndAccountRefusalsAreNotTheMessagesFault() {
        #expect(failure(401, #"{"code": 20003, "message": "Authenticate"}"#).kind == .accountRefused)
        #expect(failure(401, "").kind == .accountRefused)
        #expect(failure(403, #"{"code": 20005, "message": "Account not active"}"#).kind == .accountRefused)
        #expect(failure(400, #"{"code": 20003, "message": "Authenticate"}"#).kind == .accountRefused)
        #expect(
            TwilioProvider.failure(status: 401, headers: HTTPHeaders(), body: Data(), toASend: true).kind
                == .accountRefused)
    }

    @Test func tooManyRequestsAndServerErrorsAreRetriedHonouringRetryAfter() {
        #expect(
            failure(429, #"{"code": 20429, "message": "Too Many Requests"}"#, headers: [("Retry-After", "3")]).kind
                == .retryable(retryAfter: .seconds(3)))
        // Twilio's 20429 counts even with another HTTP status.
        #expect(failure(400, #"{"code": 20429, "message": "slow down"}"#).kind == .retryable(retryAfter: nil))
        #expect(failure(503, "<html>unavailable</html>").kind == .retryable(retryAfter: nil))
        #expect(failure(500, "").message == "Twilio answered HTTP 500")
        #expect(failure(502, "", headers: [("Retry-After", " 7 ")]).kind == .retryable(retryAfter: .seconds(7)))
    }

    @Test func aServerErrorToASendIsLookedUpNotSentAgain() {
        func afterSend(_ status: Int, _ body: String = "") -> ProviderFailure.Kind {
            TwilioProvider.failure(status: status, headers: HTTPHeaders(), body: Data(body.utf8), toASend: true).kind
        }
        for status in [500, 502, 504] { #expect(afterSend(status) == .unknownFate, "\(status)") }
        #expect(afterSend(503) == .retryable(retryAfter: nil))
        #expect(afterSend(429) == .retryable(retryAfter: nil))
        #expect(afterSend(500, #"{"code": 20429, "message": "slow down"}"#) == .retryable(retryAfter: nil))
        #expect(afterSend(400, #"{"code": 21211, "message": "bad number"}"#) == .permanent)
        // A day-long Retry-After is capped at an hour; nonsense is ignored.
        #expect(failure(429, "", headers: [("Retry-After", "86400")]).kind == .retryable(retryAfter: .seconds(3600)))
        #expect(failure(429, "", headers: [("Retry-After", "soon")]).kind == .retryable(retryAfter: nil))
    }

    @Test func retryAfterAsAnHTTPDate() throws {
        let inTenSeconds = Date().addingTimeInterval(10)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let wait = try #require(TwilioProvider.parseRetryAfter(formatter.string(from: inTenSeconds)))
        #expect(wait > .seconds(7) && wait <= .seconds(11))
        #expect(TwilioProvider.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT") == .zero)
    }

    @Test func twilioDates() throws {
        let date = try #require(TwilioProvider.parseRFC2822("Mon, 16 Aug 2010 03:45:01 +0000"))
        #expect(date.timeIntervalSince1970 == 1_281_930_301)
        #expect(TwilioProvider.parseRFC2822("2010-08-16T03:45:01Z") == nil)
    }

    @Test func formEncoding() {
        #expect(
            FormEncoding.encode([("To", "+14155550100"), ("Body", "Hi & bye = 100% ✓\n")])
                == "To=%2B14155550100&Body=Hi%20%26%20bye%20%3D%20100%25%20%E2%9C%93%0A")
        #expect(FormEncoding.escape("AZaz09-._~") == "AZaz09-._~")
    }

    @Test func receiptsNeedAWellFormedSID() throws {
        let good = try JSONDecoder().decode(
            TwilioProvider.MessageResource.self,
            from: Data(
                (#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "price": "-0.00750", "#
                    + #""price_unit": "usd"}"#).utf8))
        #expect(
            good.receipt
                == ProviderReceipt(
                    sid: "SM0123456789abcdef0123456789abcdef", status: "queued", price: Decimal(string: "-0.00750"),
                    priceUnit: "USD"))
        let bad = try JSONDecoder().decode(
            TwilioProvider.MessageResource.self, from: Data(#"{"sid": "SM<script>", "status": "queued"}"#.utf8))
        #expect(bad.receipt == nil)
    }

    @Test(arguments: ["ßss", "€UR", "US", "USDX", "U$D", "ÜSD"])
    func aPriceUnitThatIsNotThreeASCIILettersIsLeftOut(_ unit: String) throws {
        let resource = try JSONDecoder().decode(
            TwilioProvider.MessageResource.self,
            from: Data(
                (#"{"sid": "SM0123456789abcdef0123456789abcdef", "price": "-0.0075", "price_unit": "\#(unit)"}"#).utf8))
        #expect(resource.receipt?.sid == "SM0123456789abcdef0123456789abcdef", "the receipt itself stands")
        #expect(resource.receipt?.priceUnit == nil)
    }
}
