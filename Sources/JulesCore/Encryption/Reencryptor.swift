import Foundation
import JSONRPC
import Logging
import Postgres

/// Re-encrypts every stored token under the newest key, a batch per transaction, until none is left under another.
///
/// Each batch locks its rows, decrypts their tokens with whichever key made them, seals them again with the newest
/// key and records that key's id, then commits. An interrupted run loses at most its open batch, which rolls back;
/// running again carries on with the rows still marked with an older key. Rows whose tokens no configured key opens
/// are skipped and counted, never altered.
///
/// A pass walks each table in id order, so a row another service writes under an older key meanwhile (one not yet
/// restarted with the new key) may land behind it. The run therefore makes passes until one re-encrypts nothing (at
/// most ``maximumPasses``), then counts what is left: only a run whose final count is zero is complete, and only
/// then may the older keys be removed.
public struct Reencryptor: Sendable {
    /// The passes a run makes at most: enough for services that stop writing with an old key soon after the run
    /// starts; a service that keeps doing so makes the run end incomplete instead of running forever.
    public static let defaultMaximumPasses = 10

    /// How far a run has come, reported after each batch.
    public struct Progress: Sendable, Equatable {
        /// Rows re-encrypted so far.
        public var reencrypted = 0
        /// Rows skipped because no configured key opens their tokens, each counted once however many passes met it.
        public var failed = 0
        /// Rows the current pass still has to look at (those under an older key when it started, minus those it has
        /// done). In ``Reencryptor/run(batchSize:pause:maximumPasses:report:)``'s answer, the rows a final count
        /// found still under another key than the newest, unreadable ones included.
        public var remaining = 0
        /// Passes begun so far.
        public var passes = 0
        /// After the run, ``remaining`` by the id of the key the rows are under (a key no longer configured among
        /// them); empty while running.
        public var remainingByKey: [String: Int] = [:]

        /// Whether no row was left under another key than the newest when the run ended: the only state in which
        /// older keys may be removed.
        public var isComplete: Bool { remaining == 0 }
    }

    let database: PostgresClient
    let cipher: PIICipher

    public init(database: PostgresClient, cipher: PIICipher) {
        self.database = database
        self.cipher = cipher
    }

    /// Rows with tokens not made by the newest key.
    public func pendingRows() async throws(PostgresError) -> Int {
        try await pendingRowsByKey().values.reduce(0, +)
    }

    /// Rows with tokens not made by the newest key, by the id of the key that made them.
    public func pendingRowsByKey() async throws(PostgresError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in EncryptedTable.all {
            let rows = try await database.query(
                """
                SELECT \(table.keyColumn) AS key_id, count(*) AS pending FROM \(table.name)
                WHERE \(table.keyColumn) <> $1 GROUP BY 1
                """,
                [.text(cipher.currentKeyID)]
            )
            for row in rows {
                counts[try row.decode("key_id"), default: 0] += try row.decode("pending", as: Int.self)
            }
        }
        return counts
    }

    /// Runs passes until one re-encrypts nothing, or `maximumPasses` have been made, then counts what is left.
    /// - Parameters:
    ///   - batchSize: Rows per transaction.
    ///   - pause: Rest between batches, to spare a busy database.
    ///   - maximumPasses: The passes to make at most (at least 1).
    ///   - report: Called after each batch that found rows.
    /// - Returns: The final progress, whose `remaining` comes from a count made after the last pass: check
    ///   ``Progress/isComplete`` before removing a key.
    public func run(
        batchSize: Int,
        pause: Duration = .zero,
        maximumPasses: Int = Reencryptor.defaultMaximumPasses,
        report: (Progress) async -> Void
    ) async throws -> Progress {
        precondition(batchSize > 0 && maximumPasses > 0, "a run needs a positive batch size and number of passes")
        var progress = Progress()
        var unreadable: Set<RowID> = []
        while progress.passes < maximumPasses {
            progress.passes += 1
            progress.remaining = try await pendingRows()
            var reencryptedInPass = 0
            for table in EncryptedTable.all {
                var cursor: UUID?
                while true {
                    let batch = try await reencryptBatch(of: table, after: cursor, limit: batchSize)
                    reencryptedInPass += batch.reencrypted
                    progress.reencrypted += batch.reencrypted
                    unreadable.formUnion(batch.unreadable.map { RowID(table: table.name, id: $0) })
                    progress.failed = unreadable.count
                    progress.remaining = max(0, progress.remaining - batch.rows)
                    if batch.rows > 0 { await report(progress) }
                    guard batch.rows == batchSize, let last = batch.lastID else { break }
                    cursor = last
                    if pause > .zero { try await Task.sleep(for: pause) }
                }
            }
            // Nothing re-encrypted: what is left, if anything, is unreadable or was written after this pass looked.
            if reencryptedInPass == 0 { break }
        }
        progress.remainingByKey = try await pendingRowsByKey()
        progress.remaining = progress.remainingByKey.values.reduce(0, +)
        return progress
    }

    private struct RowID: Hashable {
        var table: String
        var id: UUID
    }

    private struct BatchOutcome {
        var rows = 0
        var reencrypted = 0
        var unreadable: [UUID] = []
        var lastID: UUID?
    }

    private func reencryptBatch(of table: EncryptedTable, after cursor: UUID?, limit: Int) async throws
        -> BatchOutcome
    {
        let cipher = self.cipher
        return try await database.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                SELECT \(table.idColumn) AS id, \(table.tokenColumns.joined(separator: ", ")) FROM \(table.name)
                WHERE \(table.keyColumn) <> $1 AND ($2::uuid IS NULL OR \(table.idColumn) > $2::uuid)
                ORDER BY \(table.idColumn) LIMIT $3 FOR UPDATE
                """,
                [.text(cipher.currentKeyID), cursor.map { .uuid($0) } ?? .null, .int(Int64(limit))]
            )
            var outcome = BatchOutcome(rows: rows.count)
            var updates: [JSONValue] = []
            for row in rows {
                let id: UUID = try row.decode("id")
                outcome.lastID = id
                var update = JSONObject()
                update["id"] = .string(id.lowercasedText)
                do {
                    for column in table.tokenColumns {
                        let token: String? = try row.decode(column)
                        update[column] =
                            try token.map { token throws(StoredDataError) in
                                .string(cipher.seal(try cipher.open(token)))
                            } ?? .null
                    }
                } catch {
                    outcome.unreadable.append(id)
                    continue
                }
                updates.append(.object(update))
            }
            guard !updates.isEmpty else { return outcome }
            let columns = table.tokenColumns
            let updated = try await transaction.query(
                """
                UPDATE \(table.name) AS target
                SET \(columns.map { "\($0) = source.\($0)" }.joined(separator: ", ")), \(table.keyColumn) = $1
                FROM jsonb_to_recordset($2::jsonb)
                    AS source(id uuid, \(columns.map { "\($0) text" }.joined(separator: ", ")))
                WHERE target.\(table.idColumn) = source.id
                """,
                [.text(cipher.currentKeyID), .json(JSONValue.array(updates).jsonString)]
            )
            outcome.reencrypted = updated.affectedRows
            return outcome
        }
    }
}
