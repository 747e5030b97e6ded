import Foundation
import JSONRPC
import JulesCore
import JulesSecurity
import Postgres
import Testing

/// A member row whose tokens no configured key opens (its key was removed too early, or the row was altered) must
/// not take the whole `member.list` page down with it.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct UnreadableMemberTests {
    @Test func aPageWithAnUnreadableMemberStillAnswersAndMarksIt() async throws {
        let keyA = FernetKey.generate()
        let keyB = FernetKey.generate()
        let blindIndexKey = BlindIndex.generateKey()
        func cipher(_ keys: [FernetKey]) throws -> PIICipher {
            try PIICipher(testKeys: keys, blindIndexKey: blindIndexKey)
        }
        try await MembersHarness.run(cipher: try cipher([keyA])) { underA in
            let household = try await underA.createHousehold()
            let lost = try await underA.addMember(household: household, name: "Quillon", phone: "+14155550123")
            // Written under B, but its number replaced by a token of B's that does not hold a phone number.
            let rotated = try underA.with(cipher: try cipher([keyB, keyA]))
            let altered = try await rotated.addMember(household: household, name: "Altered", phone: "+14155550124")
            _ = try await rotated.database.query(
                "UPDATE members SET phone_ciphertext = $2 WHERE id = $1::uuid",
                [.text(try #require(altered["id"]?.stringValue)), .text(rotated.cipher.seal("not a number"))]
            )
            let kept = try await rotated.addMember(household: household, name: "Kept", phone: "+14155550125")

            // A was removed before its rows were re-encrypted.
            let onlyB = try underA.with(cipher: try cipher([keyB]))
            let page = try await onlyB.result("member.list", ["household_id": .string(household)])
            let members = try #require(page["members"]?.arrayValue)
            #expect(members.map { $0["id"] } == [lost["id"], altered["id"], kept["id"]])

            #expect(members[0]["name"] == nil && members[0]["phone"] == nil)
            #expect(members[0]["opt_in_state"] == "pending", "what is not encrypted is still there")
            #expect(
                members[0]["unreadable"] == ["reason": "key_not_configured", "key_id": .string(keyA.fingerprint)])
            #expect(members[1]["name"] == nil && members[1]["phone"] == nil)
            #expect(members[1]["unreadable"] == ["reason": "undecryptable", "key_id": .string(keyB.fingerprint)])
            #expect(members[2]["name"] == "Kept" && members[2]["phone"] == "+1******0125")
            #expect(members[2]["unreadable"] == nil)

            let logs = onlyB.logs.captured.filter { $0.contains("cannot be decrypted") }
            #expect(logs.count == 2, "one warning per unreadable member")
            #expect(logs.allSatisfy { $0.contains(#""level":"warning""#) })
            #expect(logs.first?.contains(try #require(lost["id"]?.stringValue)) == true)
            for line in logs {
                #expect(!line.contains("Quillon") && !line.contains("Altered") && !line.contains("not a number"))
                #expect(!line.contains("gAAAAA"), "no token in the log")
            }

            let metrics = try #require(try await onlyB.result("metrics.prometheus")["text"]?.stringValue)
            #expect(metrics.contains(#"jules_members_unreadable_total{reason="key_not_configured"} 1"#))
            #expect(metrics.contains(#"jules_members_unreadable_total{reason="undecryptable"} 1"#))
        }
    }
}
