import Foundation
import JSONRPC
import JulesSecurity
import Postgres
import Redis
import Testing

@testable import JulesCore

/// Messages to members whose number cannot be decrypted: a key that is not configured holds the message, a damaged
/// token fails it; neither reaches the provider, and neither is reported as the provider's refusal.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct SMSUnreadableRecipientTests {
    @Test func aNumberEncryptedWithAKeyNotConfiguredWaitsAndGoesOnceTheKeyIsBack() async throws {
        let keys = RotationKeys()
        let (oldKey, newKey) = (keys.a, keys.b)
        try await MembersHarness.run(cipher: try keys.cipher([oldKey])) { harness in
            let member = try await harness.makeMembers(1)[0]
            let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
            let id = try #require(sent["message_id"]?.stringValue)
            let provider = ScriptedProvider()

            // An instance configured without the key that made the number: the message waits.
            let withoutOldKey = try harness.with(
                cipher: try keys.cipher([newKey]))
            try await SMSSenders.run(withoutOldKey, provider: provider) {
                var status = try await Self.waitUntilHeld(id, naming: oldKey.fingerprint, in: harness)
                #expect(status["error"]?["message"]?.stringValue?.contains("not configured") == true, "\(status)")
                // Held several times over (the test's longest retry delay is 200 ms), and still waiting.
                try await Task.sleep(for: .milliseconds(700))
                status = try await harness.result("sms.status", ["message_id": .string(id)])
                #expect(status["status"] == "queued" || status["status"] == "sending", "\(status)")
                #expect(status["attempts"] == 0, "a wait uses up no attempt")
                #expect(status["error"]?["reason"] == nil)
            }
            #expect(provider.attempts(to: member.phone) == 0, "the provider never saw it")

            // The key is configured again (second in the ring, as after a rotation): the message goes.
            let withBothKeys = try harness.with(
                cipher: try keys.cipher([newKey, oldKey]))
            try await SMSSenders.run(withBothKeys, provider: provider) {
                let status = try await harness.waitForMessage(id, in: ["sent"])
                #expect(status["attempts"] == 1)
            }
            #expect(provider.taken.map(\.to) == [member.phone])
        }
    }

    /// A message that waits for its key is held before it takes rate-limit tokens: looked at again and again, it
    /// must not use up the rate of the messages that can go.
    @Test func aMessageWaitingForItsKeyTakesNoRateLimitTokens() async throws {
        let keys = RotationKeys()
        try await MembersHarness.run(cipher: try keys.cipher([keys.a])) { harness in
            let member = try await harness.makeMembers(1)[0]
            let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
            let id = try #require(sent["message_id"]?.stringValue)
            let provider = ScriptedProvider()
            let bucketKey = "test-sms:\(UUID().uuidString.prefix(8)):account"
            try await SMSSenders.run(
                try harness.with(cipher: try keys.cipher([keys.b])), provider: provider, bucketKey: bucketKey
            ) {
                var status = try await Self.waitUntilHeld(id, naming: keys.a.fingerprint, in: harness)
                #expect(status["error"]?["message"]?.stringValue?.contains("not configured") == true, "\(status)")
                // Looked at several times over (the test's longest retry delay is 200 ms).
                try await Task.sleep(for: .milliseconds(700))
                status = try await harness.result("sms.status", ["message_id": .string(id)])
                #expect(status["status"] == "queued", "\(status)")
                #expect(status["attempts"] == 0)
                // The bucket is made by the first tokens taken from it.
                let exists = try await harness.redis.command(["EXISTS", bucketKey])
                #expect(exists.intValue == 0, "the waiting message took rate-limit tokens")
            }
            #expect(provider.taken.isEmpty)
        }
    }

    /// The claim reads the member's key, but the start reads it again under the row's lock: a number re-encrypted
    /// under a key this instance lacks in between (while the message waited for its rate-limit token) holds the
    /// message there too, without using up an attempt, and it goes once the key is configured.
    @Test func aNumberReEncryptedUnderAMissingKeyAfterTheClaimWaitsAtTheStart() async throws {
        let keys = RotationKeys()
        let missing = FernetKey.generate()
        try await MembersHarness.run(cipher: try keys.cipher([keys.a])) { harness in
            let members = try await harness.makeMembers(2)
            var messages: [String: String] = [:]  // phone → message id
            for member in members {
                let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
                messages[member.phone] = try #require(sent["message_id"]?.stringValue)
            }
            let provider = ScriptedProvider()
            let sender = try harness.with(cipher: try keys.cipher([keys.a]))
            // One token, then one every 10 s: the second message waits for its token after its claim read key a,
            // long enough for the test to re-encrypt its number on a busy machine.
            try await SMSSenders.run(sender, provider: provider, rate: 1.0 / 10, capacity: 1) {
                // The first has gone and the second is claimed (its claim read the key): only then is its member
                // re-encrypted, while it waits for its token. (The first's row is passed over should it show as
                // claimed and queued again, after an attempt the provider took but a starved sender timed out.)
                let claimedMember: String? = try await Self.poll {
                    let rows = try await harness.database.query(
                        """
                        SELECT member_id::text AS member FROM sms_messages
                        WHERE status = 'queued' AND claimed_by IS NOT NULL
                        """)
                    guard provider.taken.count == 1, let taken = provider.taken.first?.to else { return nil }
                    for row in rows {
                        let member: String = try row.decode("member")
                        if members.first(where: { $0.id == member })?.phone != taken { return member }
                    }
                    return nil
                }
                let other = try #require(members.first { $0.id == claimedMember })
                #expect(provider.taken.first?.to != other.phone)
                let reencrypted = try keys.cipher([missing])
                _ = try await harness.database.query(
                    "UPDATE members SET phone_ciphertext = $2, encryption_key_id = $3 WHERE id = $1::uuid",
                    [.text(other.id), .text(reencrypted.seal(other.phone)), .text(missing.fingerprint)]
                )
                let id = try #require(messages[other.phone])
                let status = try await Self.waitUntilHeld(id, naming: missing.fingerprint, in: sender)
                #expect(status["status"] == "queued" || status["status"] == "sending", "\(status)")
                #expect(status["attempts"] == 0, "a wait uses up no attempt")
                #expect(status["error"]?["reason"] == nil)
                // Held at the start (the decryption's error is logged with it), not at a later claim. The line is
                // written just after the row is, so it may not be there yet.
                let held: [String] =
                    try await Self.poll {
                        let lines = sender.logs.captured.filter { $0.contains("SMS waits") }
                        return lines.isEmpty ? nil : lines
                    } ?? []
                #expect(held.first?.contains("\"error\"") == true, "\(held)")
            }
            #expect(provider.taken.count == 1)

            // The key is configured: the message goes.
            let withKey = try harness.with(cipher: try keys.cipher([keys.a, missing]))
            try await SMSSenders.run(withKey, provider: provider) {
                for id in messages.values { try await harness.waitForMessage(id, in: ["sent"]) }
            }
            #expect(Set(provider.taken.map(\.to)) == Set(members.map(\.phone)))
        }
    }

    /// A sender died after the provider took a message. An instance without the key of the member's number adopts
    /// the row first: it cannot ask the provider (it cannot read the number), and must not put the message back in
    /// the queue, where an instance with the key would send it again without asking. It lets it go, and the
    /// instance with the key finds the message at the provider.
    @Test func anInstanceWithoutTheKeyLeavesADeadSendersMessageToOneThatCanLookItUp() async throws {
        let keys = RotationKeys()
        try await MembersHarness.run(cipher: try keys.cipher([keys.a])) { harness in
            let member = try await harness.makeMembers(1)[0]
            let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
            let id = try #require(sent["message_id"]?.stringValue)
            _ = try await harness.database.query(
                """
                UPDATE sms_messages SET status = 'sending', claimed_by = 'dead-instance',
                    claimed_until = now() - interval '1 second', attempt_started_at = now() - interval '1 minute',
                    attempts = 1
                WHERE id = $1
                """, [.text(id)])
            let provider = ScriptedProvider()
            let sid = provider.preload(to: member.phone, body: "Hello", at: Date().addingTimeInterval(-59))

            let scanOften: (Int) -> SMSSenderConfiguration = { _ in
                SMSSenders.configuration(orphanScanInterval: .milliseconds(100))
            }
            let withoutKey = try harness.with(cipher: try keys.cipher([keys.b]))
            try await SMSSenders.run(withoutKey, provider: provider, configuration: scanOften) {
                var adopted = false
                for _ in 0..<200 where !adopted {
                    adopted = withoutKey.logs.captured.contains { $0.contains("waits for an instance with") }
                    if !adopted { try await Task.sleep(for: .milliseconds(25)) }
                }
                #expect(adopted, "the instance without the key adopted the row")
                try await Task.sleep(for: .milliseconds(300))
                let status = try await harness.result("sms.status", ["message_id": .string(id)])
                #expect(status["status"] == "sending", "\(status)")
            }
            #expect(provider.lookups == 0)

            try await SMSSenders.run(try harness.with(cipher: try keys.cipher([keys.a])), provider: provider) {
                let status = try await harness.waitForMessage(id, in: ["sent"])
                #expect(status["provider_sid"]?.stringValue == sid, "\(status)")
            }
            #expect(provider.attempts(to: member.phone) == 0, "sent once, by the dead sender")
        }
    }

    /// Waiting is for messages that could go once the key is back: one to a member who opted out, or was deleted,
    /// still ends with that reason.
    @Test(arguments: ["member.optOut", "member.delete"])
    func aMessageToAMemberWhoMayNotBeTextedEndsEvenWithoutItsKey(_ change: String) async throws {
        let keys = RotationKeys()
        try await MembersHarness.run(cipher: try keys.cipher([keys.a])) { harness in
            let member = try await harness.makeMembers(1)[0]
            let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
            let id = try #require(sent["message_id"]?.stringValue)
            _ = try await harness.result(change, ["member_id": .string(member.id)])
            let provider = ScriptedProvider()
            try await SMSSenders.run(try harness.with(cipher: try keys.cipher([keys.b])), provider: provider) {
                let status = try await harness.waitForMessage(id, in: ["failed"])
                let expected = change == "member.optOut" ? "opted_out" : "member_deleted"
                #expect(status["error"]?["reason"]?.stringValue == expected, "\(status)")
            }
            #expect(provider.taken.isEmpty)
        }
    }

    /// Polls `sms.status` until the message's error names the key it waits for; returns the last status.
    static func waitUntilHeld(_ id: String, naming keyID: String, in harness: MembersHarness) async throws -> JSONValue
    {
        var status: JSONValue = .null
        _ = try await poll { () async throws -> JSONValue? in
            status = try await harness.result("sms.status", ["message_id": .string(id)])
            // Optional.none spelled out: JSONValue takes `nil` as a literal (JSON null), which would end the wait.
            guard status["error"]?["message"]?.stringValue?.contains(keyID) == true else { return Optional.none }
            return status
        }
        return status
    }

    /// `body`'s first answer that is not `nil`, asked every 25 ms for up to a minute (a generous deadline: in a full
    /// parallel run the sender can take many seconds to get to a message); `nil` if none came.
    static func poll<Value>(_ body: () async throws -> Value?) async throws -> Value? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let value = try await body() { return value }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    @Test func aDamagedNumberFailsWithItsOwnReasonAndNeverReachesTheProvider() async throws {
        try await MembersHarness.run { harness in
            let member = try await harness.makeMembers(1)[0]
            // A token of the right shape under the member's key id, which that key does not open.
            let stranger = try TestCipher.make()
            _ = try await harness.database.query(
                "UPDATE members SET phone_ciphertext = $2 WHERE id = $1::uuid",
                [.text(member.id), .text(stranger.seal(member.phone))]
            )
            let sent = try await harness.result("sms.send", ["member_id": .string(member.id), "body": "Hello"])
            let id = try #require(sent["message_id"]?.stringValue)
            let provider = ScriptedProvider()
            try await SMSSenders.run(harness, provider: provider) {
                let status = try await harness.waitForMessage(id, in: ["failed"])
                #expect(status["error"]?["reason"] == "recipient_undecryptable")
                #expect(status["error"]?["code"] == nil)
                #expect(status["attempts"] == 1)
            }
            #expect(provider.attempts(to: member.phone) == 0)
            #expect(provider.taken.isEmpty)
        }
    }
}
