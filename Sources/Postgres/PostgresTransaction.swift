import NIOConcurrencyHelpers

/// Runs statements inside the transaction of ``PostgresClient/withTransaction(isolation:_:)``, on the connection
/// leased for it. Valid only while the `body` runs: a statement sent later throws.
public struct PostgresTransaction: Sendable {
    let client: PostgresClient
    let connection: PostgresConnection
    private let isActive = NIOLockedValueBox(true)

    init(client: PostgresClient, connection: PostgresConnection) {
        self.client = client
        self.connection = connection
    }

    /// Runs one statement in the transaction.
    ///
    /// - Parameters:
    ///   - sql: One statement with `$1`, `$2`, … placeholders.
    ///   - parameters: The placeholders' values, sent apart from the SQL text.
    /// - Throws: ``PostgresError``, as ``PostgresClient/query(_:_:)``; after an error the server ignores further
    ///   statements until the transaction ends (`withTransaction` rolls it back when `body` throws).
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> PostgresRows {
        let encoded = try EncodedParameters(parameters)
        let isActive = self.isActive
        let connection = self.connection
        return try await self.client.run { () throws(PostgresError) in
            // Checked on the thread pool, right before the statement, so that a copy of the transaction that escaped
            // `body` cannot run a statement on a connection already returned to the pool.
            guard isActive.withLockedValue({ $0 }) else {
                throw PostgresError(code: .connectionClosed, message: "the transaction has already ended")
            }
            return try connection.execute(sql, encoded)
        }
    }

    func end() {
        self.isActive.withLockedValue { $0 = false }
    }
}
