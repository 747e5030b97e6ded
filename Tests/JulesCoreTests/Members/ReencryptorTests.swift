import Foundation
import JSONRPC
import JulesCore
import JulesSecurity
import Postgres
import Testing

/// `jules reencrypt`'s engine against real PostgreSQL: it may only call a run complete when no row is left under
/// another key than the newest, whatever other services wrote meanwhile and whatever it could not read.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct ReencryptorTests {
    /// The lowest UUIDs there are: a row with one of them sorts before every row a pass has walked past.
    static func lowID(_ number: Int) -> UUID {
        UUID(uuidString: String(format: "00000000-0000-4000-8000-%012d", number))!
    }

    /// Writes a member as a service still running with `cipher`'s newest key writes one: tokens of that key, and its
    /// id beside them.
    static func insertMember(
        _ harness: MembersHarness,
        id: UUID,
        household: String,
        cipher: PIICipher,
        name: String,
        phone: String
    ) async throws {
        _ = try await harness.database.query(
            """
            INSERT INTO members
                (id, household_id, name_ciphertext, phone_ciphertext, phone_blind_index, encryption_key_id)
            VALUES ($1, $2::uuid, $3, $4, $5, $6)
            """,
            [
                .uuid(id), .text(household), .text(cipher.seal(name)), .text(cipher.seal(phone)),
                .text(cipher.index(try PhoneNumber(parsing: phone))), .text(cipher.currentKeyID),
            ]
        )
    }

    static func cipher(_ keys: [FernetKey], blindIndexKey: String) throws -> PIICipher {
        try PIICipher(testKeys: keys, blindIndexKey: blindIndexKey)
    }

    /// Members added under an old key, and a run over a ring that puts a new key before it.
    struct Rotation {
        var oldKey: FernetKey
        var newKey: FernetKey
        var blindIndexKey: String
        var harness: MembersHarness
        var household: String
        var underOldKey: PIICipher
        /// The harness with the rotated ring, [new, old].
        var rotated: MembersHarness
        var reencryptor: Reencryptor
    }

    /// Adds `count` members under an old key (numbers +1415555 followed by `phonesFrom`, `phonesFrom` + 1, …),
    /// then runs `body` with a re-encryptor over the rotated ring.
    static func withMembersUnderTheOldKey(
        count: Int,
        phonesFrom first: Int,
        _ body: (Rotation) async throws -> Void
    ) async throws {
        let (oldKey, newKey, blindIndexKey) = (FernetKey.generate(), FernetKey.generate(), BlindIndex.generateKey())
        let underOldKey = try cipher([oldKey], blindIndexKey: blindIndexKey)
        try await MembersHarness.run(cipher: underOldKey) { harness in
            let household = try await harness.createHousehold()
            for index in 0..<count {
                _ = try await harness.addMember(
                    household: household, name: "M\(index)", phone: "+1415555\(first + index)")
            }
            let rotated = try harness.with(cipher: try cipher([newKey, oldKey], blindIndexKey: blindIndexKey))
            try await body(
                Rotation(
                    oldKey: oldKey, newKey: newKey, blindIndexKey: blindIndexKey, harness: harness,
                    household: household, underOldKey: underOldKey, rotated: rotated,
                    reencryptor: Reencryptor(database: rotated.database, cipher: rotated.cipher)))
        }
    }

    /// A service not yet restarted with the new key adds a member under the old key while the run is between
    /// batches, with an id the run has already walked past. The run must still leave no row under the old key.
    @Test func aRowWrittenUnderTheOldKeyDuringTheRunIsNotLeftBehind() async throws {
        try await Self.withMembersUnderTheOldKey(count: 10, phonesFrom: 4000) { rotation in
            let (harness, household, underA, rotated, reencryptor) = (
                rotation.harness, rotation.household, rotation.underOldKey, rotation.rotated, rotation.reencryptor
            )
            let (batches, batchDone) = AsyncStream.makeStream(of: Void.self)
            let run = Task {
                try await reencryptor.run(batchSize: 4, pause: .seconds(1)) { _ in batchDone.yield() }
            }
            for await _ in batches { break }
            let late = Self.lowID(1)
            try await Self.insertMember(
                harness, id: late, household: household, cipher: underA, name: "Late", phone: "+14155554999")
            let final = try await run.value

            #expect(try await reencryptor.pendingRows() == 0, "no row is left under the old key")
            #expect(final.remaining == 0)
            #expect(final.failed == 0)
            #expect(final.reencrypted == 11)
            #expect(final.isComplete)
            #expect(final.remainingByKey.isEmpty)
            #expect(final.passes == 3, "one pass over the table, one for the late row, one that found nothing")
            let onlyB = try rotated.with(
                cipher: try Self.cipher([rotation.newKey], blindIndexKey: rotation.blindIndexKey))
            let read = try await onlyB.result("member.get", ["member_id": .string(late.uuidString.lowercased())])
            #expect(read["name"] == "Late")
        }
    }

    /// Rows that no configured key opens are left as they are, and the run says so: they remain, so it is not
    /// complete, and each is counted once however many passes it took.
    @Test func unreadableRowsRemainAndAreCountedOnce() async throws {
        let keyA = FernetKey.generate()
        let keyB = FernetKey.generate()
        let keyC = FernetKey.generate()
        let blindIndexKey = BlindIndex.generateKey()
        let underA = try Self.cipher([keyA], blindIndexKey: blindIndexKey)
        let underB = try Self.cipher([keyB], blindIndexKey: blindIndexKey)
        try await MembersHarness.run(cipher: underA) { harness in
            let household = try await harness.createHousehold()
            for index in 0..<2 {
                _ = try await harness.addMember(
                    household: household, name: "A\(index)", phone: "+1415555\(5000 + index)")
            }
            let withB = try harness.with(cipher: underB)
            for index in 0..<2 {
                _ = try await withB.addMember(household: household, name: "B\(index)", phone: "+1415555\(5100 + index)")
            }
            // C is the newest, B still configured, A gone.
            let rotated = try harness.with(cipher: try Self.cipher([keyC, keyB], blindIndexKey: blindIndexKey))
            let reencryptor = Reencryptor(database: rotated.database, cipher: rotated.cipher)
            let final = try await reencryptor.run(batchSize: 1) { _ in }

            #expect(final.reencrypted == 2)
            #expect(final.failed == 2, "two rows under a key that is not configured")
            #expect(final.remaining == 2, "they are still there, under the old key")
            #expect(try await reencryptor.pendingRows() == 2)
            #expect(!final.isComplete)
            #expect(final.remainingByKey == [keyA.fingerprint: 2])
            #expect(final.passes == 2, "the second pass re-encrypted nothing")
        }
    }

    /// A service that goes on writing with the old key through every pass: the run stops after its last pass and
    /// reports the rows left, rather than running forever or calling itself complete.
    @Test func aWriterThatNeverStopsMakesTheRunEndIncomplete() async throws {
        try await Self.withMembersUnderTheOldKey(count: 3, phonesFrom: 6000) { rotation in
            let (harness, household, underA, reencryptor) = (
                rotation.harness, rotation.household, rotation.underOldKey, rotation.reencryptor
            )
            var written = 0
            let final = try await reencryptor.run(batchSize: 10, maximumPasses: 3) { _ in
                // Behind the cursor of the pass that just reported, so only a later pass can see it.
                written += 1
                try? await Self.insertMember(
                    harness, id: Self.lowID(written), household: household, cipher: underA, name: "W\(written)",
                    phone: "+1415555\(6100 + written)")
            }
            #expect(written == 3, "one batch per pass, each followed by a write under the old key")
            #expect(final.passes == 3)
            #expect(final.reencrypted == 5, "the first three rows, then each pass the row written after the last")
            #expect(!final.isComplete)
            #expect(final.remaining == 1)
            #expect(final.remainingByKey == [rotation.oldKey.fingerprint: 1])
            #expect(final.failed == 0)
        }
    }

    @Test func aCompleteRunReportsNothingLeft() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            _ = try await harness.addMember(household: household, name: "Only", phone: "+14155556500")
            let reencryptor = Reencryptor(database: harness.database, cipher: harness.cipher)
            var reports = 0
            let final = try await reencryptor.run(batchSize: 10) { _ in reports += 1 }
            #expect(final.passes == 1)
            #expect(final.reencrypted == 0 && final.failed == 0 && final.remaining == 0)
            #expect(final.isComplete)
            #expect(reports == 0, "nothing to do, nothing reported")
        }
    }
}
