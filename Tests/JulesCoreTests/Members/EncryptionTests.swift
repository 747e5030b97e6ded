import Foundation
import JSONRPC
import JulesCore
import JulesSecurity
import Postgres
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct EncryptionTests {
    @Test func encryptAndDecryptRoundTripUnderTheNewestKey() async throws {
        let old = FernetKey.generate()
        let new = FernetKey.generate()
        try await MembersHarness.run(cipher: try TestCipher.make(keys: [new, old])) { harness in
            let sealed = try await harness.result("encryption.encrypt", ["plaintext": "Grüße, 🍲"])
            #expect(sealed["key_id"]?.stringValue == new.fingerprint)
            let opened = try await harness.result("encryption.decrypt", ["token": sealed["token"]!])
            #expect(opened["plaintext"] == "Grüße, 🍲")
            #expect(opened["key_id"]?.stringValue == new.fingerprint)

            let byOldKey = Fernet(key: old.derived(forPurpose: "encryption.api")).encrypt(Array("older".utf8))
            let openedOld = try await harness.result("encryption.decrypt", ["token": .string(byOldKey)])
            #expect(openedOld["plaintext"] == "older")
            #expect(openedOld["key_id"]?.stringValue == old.fingerprint)
        }
    }

    @Test func badTokensAndOversizedInputAreInvalidParams() async throws {
        try await MembersHarness.run { harness in
            let foreign = Fernet(key: FernetKey.generate()).encrypt(Array("secret".utf8))
            // Made as encryption.encrypt makes its tokens, an hour ago.
            let stale = harness.cipher.keyRing.derived(forPurpose: "encryption.api").encrypt(
                Array("old".utf8), now: Int64(Date().timeIntervalSince1970) - 3600)
            let cases: [(String, JSONValue, String)] = [
                ("encryption.decrypt", ["token": .string(foreign)], "params.token"),
                ("encryption.decrypt", ["token": "gAAAAAnot-a-token"], "params.token"),
                ("encryption.decrypt", ["token": .string(stale), "ttl_seconds": 60], "params.token"),
                ("encryption.decrypt", ["token": .string(stale), "ttl_seconds": 0], "params.ttl_seconds"),
                ("encryption.decrypt", ["token": .string(String(repeating: "A", count: 70_000))], "params.token"),
                (
                    "encryption.encrypt", ["plaintext": .string(String(repeating: "x", count: 32 * 1024 + 1))],
                    "params.plaintext"
                ),
                ("encryption.encrypt", [:], "params.plaintext"),
            ]
            for (method, params, field) in cases {
                let error = try await harness.error(method, params)
                #expect(error["code"] == -32602, "\(method) \(field)")
                #expect(error["data"]?["field"]?.stringValue == field)
            }
            let fresh = try await harness.result("encryption.decrypt", ["token": .string(stale), "ttl_seconds": 7200])
            #expect(fresh["plaintext"] == "old")
        }
    }

    /// The API's tokens and the stored member data's serve different purposes: a caller of `encryption.decrypt`
    /// cannot read a stored name or number with it, and a token the API made does not open as member data.
    @Test func memberDataTokensDoNotOpenThroughEncryptionDecrypt() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let member = try await harness.addMember(household: household, name: "Zebedee", phone: "+14155550123")
            let row = try await harness.database.query(
                "SELECT name_ciphertext, phone_ciphertext FROM members WHERE id = $1::uuid",
                [.text(try #require(member["id"]?.stringValue))]
            )[0]
            var tokens: [String] = []
            for column in ["name_ciphertext", "phone_ciphertext"] {
                tokens.append(try row.decode(column))
            }
            tokens.append(harness.cipher.seal("+14155550199"))
            for token in tokens {
                let error = try await harness.error("encryption.decrypt", ["token": .string(token)])
                #expect(error["code"] == -32602)
                #expect(error["data"]?["field"] == "params.token")
                let text = String(decoding: error.serialized, as: UTF8.self)
                #expect(!text.contains("4155550") && !text.contains("Zebedee"))
            }

            let apiToken = try #require(
                try await harness.result("encryption.encrypt", ["plaintext": "+14155550123"])["token"]?.stringValue)
            #expect(throws: StoredDataError.self) { try harness.cipher.open(apiToken) }
        }
    }

    /// A token the API made under key A still opens after the rotation to [B, A] (reported as A's), new tokens are
    /// B's, and once A is removed A's tokens no longer open.
    @Test func apiTokensFollowAKeyRotation() async throws {
        let keyA = FernetKey.generate()
        let keyB = FernetKey.generate()
        try await MembersHarness.run(cipher: try TestCipher.make(keys: [keyA])) { underA in
            let sealed = try await underA.result("encryption.encrypt", ["plaintext": "kept"])
            #expect(sealed["key_id"]?.stringValue == keyA.fingerprint)

            let rotated = try underA.with(cipher: try TestCipher.make(keys: [keyB, keyA]))
            let opened = try await rotated.result("encryption.decrypt", ["token": sealed["token"]!])
            #expect(opened["plaintext"] == "kept")
            #expect(opened["key_id"]?.stringValue == keyA.fingerprint)
            let fresh = try await rotated.result("encryption.encrypt", ["plaintext": "new"])
            #expect(fresh["key_id"]?.stringValue == keyB.fingerprint)

            let onlyB = try underA.with(cipher: try TestCipher.make(keys: [keyB]))
            #expect(try await onlyB.result("encryption.decrypt", ["token": fresh["token"]!])["plaintext"] == "new")
            let error = try await onlyB.error("encryption.decrypt", ["token": sealed["token"]!])
            #expect(error["data"]?["field"] == "params.token")
        }
    }

    /// Rotation end to end: members under key A; the service restarts with [B, A]; re-encryption is interrupted once
    /// and run again; then A is removed and every member still reads back.
    @Test func rotationWithAnInterruptedReencryption() async throws {
        let keys = RotationKeys()
        let (keyA, keyB, cipher) = (keys.a, keys.b, keys.cipher)
        try await MembersHarness.run(cipher: try cipher([keyA])) { underA in
            let household = try await underA.createHousehold()
            var expected: [String: (name: String, phone: String)] = [:]
            for index in 0..<25 {
                let phone = "+1415555\(2000 + index)"
                let member = try await underA.addMember(household: household, name: "Member \(index)", phone: phone)
                expected[member["id"]!.stringValue!] = ("Member \(index)", phone)
            }
            let erased = try await underA.addMember(household: household, name: "Gone", phone: "+14155559999")
            _ = try await underA.result("member.erase", ["member_id": erased["id"]!])

            let rotated = try underA.with(cipher: try cipher([keyB, keyA]))
            let before = try await rotated.result("encryption.status")
            #expect(before["primary_key_id"]?.stringValue == keyB.fingerprint)
            #expect(before["keys"]?.arrayValue?[0]["values"] == 0)
            #expect(
                before["keys"]?.arrayValue?[1]["values"] == 50, "25 names and 25 numbers, none for the erased member")
            #expect(before["values_to_reencrypt"] == 50)

            // A new member after the restart is written with B at once.
            let late = try await rotated.addMember(household: household, name: "Late", phone: "+14155558888")
            expected[late["id"]!.stringValue!] = ("Late", "+14155558888")

            // Interrupted: cancelled during its pause after the first batch of 4.
            let reencryptor = Reencryptor(database: rotated.database, cipher: rotated.cipher)
            let interrupted = Task {
                try await reencryptor.run(batchSize: 4, pause: .seconds(30)) { _ in }
            }
            var partial = 0
            for _ in 0..<200 {
                partial = try await reencryptor.pendingRows()
                if partial < 25 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            interrupted.cancel()
            _ = await interrupted.result
            #expect(partial == 21, "one batch of 4 rows was committed before the interruption")

            var reports: [Reencryptor.Progress] = []
            let final = try await reencryptor.run(batchSize: 4) { reports.append($0) }
            #expect(final.reencrypted == 21)
            #expect(final.failed == 0)
            #expect(final.remaining == 0)
            #expect(reports.count == 6, "21 rows in batches of 4")
            #expect(try await reencryptor.pendingRows() == 0)

            let after = try await rotated.result("encryption.status")
            #expect(after["keys"]?.arrayValue?[0]["values"] == 52)
            #expect(after["keys"]?.arrayValue?[1]["values"] == 0)
            #expect(after["values_to_reencrypt"] == 0)

            let onlyB = try rotated.with(cipher: try cipher([keyB]))
            for (id, member) in expected {
                let read = try await onlyB.result("member.get", ["member_id": .string(id), "reveal_phone": true])
                #expect(read["name"]?.stringValue == member.name)
                #expect(read["phone_e164"]?.stringValue == member.phone)
                let found = try await onlyB.result("member.find", ["phone": .string(member.phone)])
                #expect(found["id"]?.stringValue == id, "the blind index did not change with the rotation")
            }
        }
    }

    @Test func statusReportsTokensOfAKeyThatIsNoLongerConfigured() async throws {
        let keyA = FernetKey.generate()
        let blindIndexKey = BlindIndex.generateKey()
        try await MembersHarness.run(
            cipher: PIICipher(
                keyRing: try FernetKeyRing(keys: [keyA]), blindIndex: try BlindIndex(base64URL: blindIndexKey))
        ) { harness in
            let household = try await harness.createHousehold()
            let member = try await harness.addMember(household: household, name: "A", phone: "+14155550123")
            let keyB = FernetKey.generate()
            let withoutA = try harness.with(
                cipher: PIICipher(
                    keyRing: try FernetKeyRing(keys: [keyB]), blindIndex: try BlindIndex(base64URL: blindIndexKey))
            )
            let status = try await withoutA.result("encryption.status")
            #expect(status["unknown_keys"] == [["key_id": .string(keyA.fingerprint), "values": 2]])
            let read = try await withoutA.result("member.get", ["member_id": member["id"]!])
            #expect(read["name"] == nil, "unreadable data is marked, not an error (see UnreadableMemberTests)")
            #expect(read["unreadable"] == ["reason": "key_not_configured", "key_id": .string(keyA.fingerprint)])
            let progress = try await Reencryptor(database: withoutA.database, cipher: withoutA.cipher).run(
                batchSize: 10
            ) { _ in }
            #expect(progress.failed == 1)
            #expect(progress.reencrypted == 0)
        }
    }
}
