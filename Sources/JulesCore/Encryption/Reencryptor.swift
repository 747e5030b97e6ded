import Foundation
import JSONRPC
import Logging
import Postgres

/// Re-encrypts every stored token under the newest key, a batch per transaction.
///
/// Each batch locks its rows, decrypts their tokens with whichever key made them, seals them again with the newest
/// key and records that key's id, then commits. An interrupted run loses at most its open batch, which rolls back;
/// running again carries on with the rows still marked with an older key. Rows whose tokens no configured key opens
/// are skipped and counted, never altered.
public struct Reencryptor: Sendable {
    /// How far a run has come.
    public struct Progress: Sendable, Equatable {
        /// Rows re-encrypted so far.
        public var reencrypted = 0
        /// Rows skipped because no configured key opens their tokens.
        public var failed = 0
        /// Rows still marked with an older key when the run started, minus those done.
        public var remaining = 0
    }

    let database: PostgresClient
    let cipher: PIICipher

    public init(database: PostgresClient, cipher: PIICipher) {
        self.database = database
        self.cipher = cipher
    }

    /// Rows with tokens not made by the newest key.
    public func pendingRows() async throws(PostgresError) -> Int {
        var total = 0
        for table in EncryptedTable.all {
            total += try await database.query(
                "SELECT count(*) AS pending FROM \(table.name) WHERE \(table.keyColumn) <> $1",
                [.text(cipher.currentKeyID)]
            )[0].decode("pending", as: Int.self)
        }
        return total
    }

    /// Runs to the end.
    /// - Parameters:
    ///   - batchSize: Rows per transaction.
    ///   - pause: Rest between batches, to spare a busy database.
    ///   - report: Called after each batch.
    /// - Returns: The final progress; `failed` rows need a key that is no longer configured.
    public func run(
        batchSize: Int,
        pause: Duration = .zero,
        report: (Progress) -> Void
    ) async throws -> Progress {
        var progress = Progress(remaining: try await pendingRows())
        for table in EncryptedTable.all {
            var cursor: UUID?
            while true {
                let batch = try await reencryptBatch(of: table, after: cursor, limit: batchSize)
                progress.reencrypted += batch.reencrypted
                progress.failed += batch.failed
                progress.remaining = max(0, progress.remaining - batch.reencrypted - batch.failed)
                if batch.rows > 0 { report(progress) }
                guard batch.rows == batchSize, let last = batch.lastID else { break }
                cursor = last
                if pause > .zero { try await Task.sleep(for: pause) }
            }
        }
        return progress
    }

    private struct BatchOutcome {
        var rows = 0
        var reencrypted = 0
        var failed = 0
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
                    outcome.failed += 1
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
