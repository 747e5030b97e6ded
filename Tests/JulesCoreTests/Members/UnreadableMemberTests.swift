import Foundation
import JSONRPC
import JulesCore
import JulesSecurity
import Postgres
import Testing

/// A member row whose tokens no configured key opens (its key was removed too early, or the row was altered) must
/// not take the whole `member.list` page down with it, nor make any other method that answers a member fail: they
/// all answer it marked, as member.list does, with the same warning and counter.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct UnreadableMemberTests {
    @Test func aPageWithAnUnreadableMemberStillAnswersAndMarksIt() async throws {
        let keys = RotationKeys()
        let (keyA, keyB, cipher) = (keys.a, keys.b, keys.cipher)
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

    /// Two members no configured key reads, as the one test above makes them: `lost` was written under a key that is
    /// no longer configured, `altered` under the configured key but with a token that holds no phone number.
    struct Unreadables {
        var harness: MembersHarness
        var lost: String
        var altered: String
        var lostKeyID: String
        var alteredKeyID: String
    }

    static func withUnreadableMembers(_ body: (Unreadables) async throws -> Void) async throws {
        let keys = RotationKeys()
        let (keyA, keyB, cipher) = (keys.a, keys.b, keys.cipher)
        try await MembersHarness.run(cipher: try cipher([keyA])) { underA in
            let household = try await underA.createHousehold()
            let lost = try await underA.addMember(household: household, name: "Quillon", phone: "+14155550123")
            let rotated = try underA.with(cipher: try cipher([keyB, keyA]))
            let altered = try await rotated.addMember(household: household, name: "Altered", phone: "+14155550124")
            let alteredID = try #require(altered["id"]?.stringValue)
            _ = try await rotated.database.query(
                "UPDATE members SET phone_ciphertext = $2 WHERE id = $1::uuid",
                [.text(alteredID), .text(rotated.cipher.seal("not a number"))]
            )
            try await body(
                Unreadables(
                    harness: try underA.with(cipher: try cipher([keyB])),
                    lost: try #require(lost["id"]?.stringValue),
                    altered: alteredID,
                    lostKeyID: keyA.fingerprint,
                    alteredKeyID: keyB.fingerprint
                ))
        }
    }

    /// `member` is answered without name and number, marked with `reason` and `keyID`; the warnings logged so far
    /// name no value nor token, and the counter shows `counts`.
    static func expectMarked(
        _ member: JSONValue?,
        id: String,
        reason: String,
        keyID: String,
        in harness: MembersHarness,
        warnings: Int,
        counts: (keyNotConfigured: Int, undecryptable: Int),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let member = try #require(member, sourceLocation: sourceLocation)
        #expect(member["id"] == .string(id), sourceLocation: sourceLocation)
        #expect(
            member["name"] == nil && member["phone"] == nil && member["phone_e164"] == nil,
            sourceLocation: sourceLocation)
        #expect(member["household_id"] != nil, "what is not encrypted is still there", sourceLocation: sourceLocation)
        #expect(
            member["unreadable"] == ["reason": .string(reason), "key_id": .string(keyID)],
            sourceLocation: sourceLocation)

        let logs = harness.logs.captured.filter { $0.contains("cannot be decrypted") }
        #expect(logs.count == warnings, "one warning per member answered unreadable", sourceLocation: sourceLocation)
        #expect(logs.last?.contains(id) == true, sourceLocation: sourceLocation)
        for line in harness.logs.captured {
            #expect(
                !line.contains("Quillon") && !line.contains("Altered") && !line.contains("not a number")
                    && !line.contains("gAAAAA") && !line.contains("4155550123") && !line.contains("4155550124"),
                "no value nor token in the log: \(line)", sourceLocation: sourceLocation)
        }
        let metrics = try #require(
            try await harness.result("metrics.prometheus")["text"]?.stringValue, sourceLocation: sourceLocation)
        let expected = [("key_not_configured", counts.keyNotConfigured), ("undecryptable", counts.undecryptable)]
        for (reason, count) in expected {
            #expect(
                metrics.contains(#"jules_members_unreadable_total{reason="\#(reason)"} \#(count)"#),
                sourceLocation: sourceLocation)
        }
    }

    @Test func memberGetAnswersAnUnreadableMemberMarked() async throws {
        try await Self.withUnreadableMembers { u in
            let lost = try await u.harness.result("member.get", ["member_id": .string(u.lost), "reveal_phone": true])
            #expect(lost["opt_in_state"] == "pending")
            try await Self.expectMarked(
                lost, id: u.lost, reason: "key_not_configured", keyID: u.lostKeyID, in: u.harness, warnings: 1,
                counts: (1, 0))
            let altered = try await u.harness.result("member.get", ["member_id": .string(u.altered)])
            try await Self.expectMarked(
                altered, id: u.altered, reason: "undecryptable", keyID: u.alteredKeyID, in: u.harness, warnings: 2,
                counts: (1, 1))
        }
    }

    /// The blind index matched, so the member is the one with this number even though its tokens cannot be read:
    /// find answers it marked (its id and opt-in state are what a caller handling STOP needs), and does not echo
    /// the number it was given in place of the stored one it could not read.
    @Test func memberFindAnswersAnUnreadableMemberMarked() async throws {
        try await Self.withUnreadableMembers { u in
            let lost = try await u.harness.result("member.find", ["phone": "(415) 555-0123", "reveal_phone": true])
            try await Self.expectMarked(
                lost, id: u.lost, reason: "key_not_configured", keyID: u.lostKeyID, in: u.harness, warnings: 1,
                counts: (1, 0))
            let altered = try await u.harness.result("member.find", ["phone": "+1 415 555 0124"])
            try await Self.expectMarked(
                altered, id: u.altered, reason: "undecryptable", keyID: u.alteredKeyID, in: u.harness, warnings: 2,
                counts: (1, 1))
        }
    }

    /// The change is made and audited; answering it with an internal error would tell the caller it was not.
    @Test func optInAndOptOutAnswerAnUnreadableMemberMarked() async throws {
        try await Self.withUnreadableMembers { u in
            let out = try await u.harness.result("member.optOut", ["member_id": .string(u.lost), "source": "carrier"])
            #expect(out["changed"] == true)
            #expect(out["member"]?["opt_in_state"] == "opted_out")
            try await Self.expectMarked(
                out["member"], id: u.lost, reason: "key_not_configured", keyID: u.lostKeyID, in: u.harness,
                warnings: 1, counts: (1, 0))
            let again = try await u.harness.result("member.optOut", ["member_id": .string(u.lost)])
            #expect(again["changed"] == false)
            try await Self.expectMarked(
                again["member"], id: u.lost, reason: "key_not_configured", keyID: u.lostKeyID, in: u.harness,
                warnings: 2, counts: (2, 0))
            let optedIn = try await u.harness.result("member.optIn", ["member_id": .string(u.altered)])
            #expect(optedIn["changed"] == true)
            #expect(optedIn["member"]?["opt_in_state"] == "opted_in")
            try await Self.expectMarked(
                optedIn["member"], id: u.altered, reason: "undecryptable", keyID: u.alteredKeyID, in: u.harness,
                warnings: 3, counts: (2, 1))
            let audited = try await u.harness.database.query(
                "SELECT count(*) AS n FROM opt_in_audit_log WHERE new_state IN ('opted_out', 'opted_in')")[0].decode(
                    "n", as: Int.self)
            #expect(audited == 2, "both changes were made and audited")
        }
    }

    @Test func memberDeleteAnswersAnUnreadableMemberMarked() async throws {
        try await Self.withUnreadableMembers { u in
            let deleted = try await u.harness.result("member.delete", ["member_id": .string(u.lost)])
            #expect(deleted["deleted_at"] != nil)
            try await Self.expectMarked(
                deleted, id: u.lost, reason: "key_not_configured", keyID: u.lostKeyID, in: u.harness, warnings: 1,
                counts: (1, 0))
            let missing = try await u.harness.error("member.find", ["phone": "+14155550123"])
            #expect(missing["data"]?["type"] == "not_found", "the delete was made")
        }
    }
}
