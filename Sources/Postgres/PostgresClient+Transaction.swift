import Logging

extension PostgresClient {
    /// Runs `body` in a transaction on one connection: `BEGIN`, then `COMMIT` when `body` returns or `ROLLBACK` when
    /// it throws.
    ///
    /// - Parameters:
    ///   - isolation: The caller's actor; lets `body` use the caller's state without being `Sendable`.
    ///   - body: The work; run statements through its ``PostgresTransaction`` and do not keep it.
    /// - Returns: What `body` returned, once the commit succeeded.
    /// - Throws: The error `body` threw (after the rollback); a ``PostgresError`` when `BEGIN` or `COMMIT` fails,
    ///   e.g. ``PostgresError/isSerializationFailure`` at commit, or code ``PostgresError/Code/queryFailed`` with
    ///   SQLSTATE 25P02 when a statement failed inside `body` but `body` did not throw (the server rolled back).
    public func withTransaction<T: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        let connection = try await self.pool.acquire()
        defer { self.pool.release(connection) }
        _ = try await self.run { () throws(PostgresError) in
            try connection.prepareForUse()
            return try connection.execute("BEGIN", EncodedParameters.none)
        }
        let transaction = PostgresTransaction(client: self, connection: connection)
        let value: T
        do {
            value = try await body(transaction)
        } catch {
            transaction.end()
            do {
                _ = try await self.run { () throws(PostgresError) in
                    try connection.execute("ROLLBACK", EncodedParameters.none)
                }
            } catch let rollbackError {
                // The connection is then closed on release (it is broken or still inside the transaction block).
                self.logger.warning("ROLLBACK failed", metadata: ["error": "\(rollbackError)"])
            }
            throw error
        }
        transaction.end()
        let commit = try await self.run { () throws(PostgresError) in
            try connection.execute("COMMIT", EncodedParameters.none)
        }
        // The server answers COMMIT of a failed transaction with ROLLBACK instead of an error.
        if commit.commandTag == "ROLLBACK" {
            throw PostgresError(
                code: .queryFailed,
                message: "the transaction was rolled back because a statement in it failed",
                sqlState: "25P02"
            )
        }
        return value
    }
}
