import Logging
import NIOCore
import NIOPosix

/// A pool of libpq connections to one PostgreSQL database.
///
/// libpq blocks, so every libpq call runs on a `NIOThreadPool` that the client owns, with one thread per pooled
/// connection (``PostgresConfiguration/poolSize``); callers only await it. Nothing blocking ever runs on an event
/// loop or on Swift's cooperative pool.
///
/// Connections open lazily. Before a leased connection runs its first statement the client checks, without a round
/// trip, whether the server closed it while it sat idle (server restart, `pg_terminate_backend`, idle timeout) and
/// reconnects if so; a connection that breaks during a statement fails that statement with
/// ``PostgresError/Code/connectionClosed`` and is replaced on the next checkout.
///
/// Call ``shutdown()`` before dropping the client.
public final class PostgresClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: PostgresConfiguration
    let logger: Logger
    let threadPool: NIOThreadPool
    let pool: ConnectionPool

    /// Creates a client and starts its thread pool; no connection is opened until one is needed (or
    /// ``connect(retryFor:)`` is called).
    ///
    /// - Parameters:
    ///   - configuration: Where to connect, and the pool's size and timeouts.
    ///   - logger: Receives connection events (never SQL text, parameters or passwords).
    public init(configuration: PostgresConfiguration, logger: Logger) {
        var logger = logger
        logger[metadataKey: "postgres.server"] = "\(configuration.redactedDescription)"
        self.configuration = configuration
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        self.threadPool.start()
        self.pool = ConnectionPool(configuration: configuration, logger: logger, threadPool: self.threadPool)
    }

    deinit {
        // Without shutdown() the pool's threads would live on; stopping them is all deinit can do without awaiting.
        if !self.pool.isShuttingDown {
            self.threadPool.shutdownGracefully { _ in }
        }
    }

    /// A snapshot of the pool: its size, and how many connections are open, in use and idle, and how many callers
    /// wait.
    public var statistics: PostgresPoolStatistics {
        self.pool.statistics
    }

    /// Opens one connection at start-up, retrying with exponential backoff (50 ms doubling to 2 s) until `retryFor`
    /// has passed; the connection then waits idle in the pool.
    ///
    /// - Parameter retryFor: How long to keep trying; the last attempt may overrun it by up to
    ///   ``PostgresConfiguration/connectTimeout``.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/connectionFailed`` whose message names
    ///   ``PostgresConfiguration/redactedDescription`` and the last failure; ``PostgresError/Code/shutDown`` or
    ///   ``PostgresError/Code/cancelled`` when the client stops or the task is cancelled meanwhile.
    public func connect(retryFor: Duration) async throws(PostgresError) {
        guard !self.pool.isShuttingDown else { throw ConnectionPool.shutDownError }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: retryFor)
        var delay = Duration.milliseconds(50)
        var attempts = 0
        while true {
            attempts += 1
            let connection = self.pool.makeConnection()
            do {
                try await self.run { () throws(PostgresError) in try connection.prepareForUse() }
                self.pool.adopt(connection)
                self.logger.info("connected to PostgreSQL", metadata: ["postgres.attempts": "\(attempts)"])
                return
            } catch {
                if error.code == .shutDown || error.code == .cancelled { throw error }
                let remaining = clock.now.duration(to: deadline)
                guard remaining > .zero else {
                    throw PostgresError(
                        code: .connectionFailed,
                        message: "gave up after \(retryFor) (\(attempts) attempts): \(error.message)"
                    )
                }
                self.logger.warning(
                    "PostgreSQL not reachable yet; retrying",
                    metadata: ["postgres.error": "\(error.message)", "postgres.retry_in": "\(min(delay, remaining))"]
                )
                do {
                    try await Task.sleep(for: min(delay, remaining))
                } catch {
                    throw PostgresError(code: .cancelled, message: "cancelled while waiting to reconnect")
                }
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Runs one statement on a pooled connection.
    ///
    /// - Parameters:
    ///   - sql: One statement with `$1`, `$2`, … placeholders; without parameters several `;`-separated
    ///     statements are allowed (the last one's rows are returned).
    ///   - parameters: The placeholders' values, sent apart from the SQL text.
    /// - Returns: All rows, read completely.
    /// - Throws: ``PostgresError``: ``PostgresError/Code/queryFailed`` (see ``PostgresError/sqlState``),
    ///   ``PostgresError/Code/timeout``, ``PostgresError/Code/poolTimeout``, ``PostgresError/Code/connectionFailed``,
    ///   ``PostgresError/Code/connectionClosed``, ``PostgresError/Code/shutDown`` or
    ///   ``PostgresError/Code/cancelled``.
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> PostgresRows {
        let encoded = try EncodedParameters(parameters)
        let connection = try await self.pool.acquire()
        defer { self.pool.release(connection) }
        return try await self.run { () throws(PostgresError) in
            try connection.prepareForUse()
            return try connection.execute(sql, encoded)
        }
    }

    /// Closes the idle connections, fails waiting callers, waits for leased connections to come back (in-flight
    /// statements and transactions finish), closes them and stops the thread pool. Later calls throw
    /// ``PostgresError/Code/shutDown``. A second call returns at once.
    public func shutdown() async {
        guard let idle = self.pool.beginShutdown() else { return }
        await self.close(idle)
        await self.close(await self.pool.drain())
        do {
            try await self.threadPool.shutdownGracefully()
        } catch {
            self.logger.warning("stopping the thread pool failed", metadata: ["error": "\(error)"])
        }
        self.logger.debug("PostgreSQL client shut down")
    }

    private func close(_ connections: [PostgresConnection]) async {
        for connection in connections {
            try? await self.run { connection.close() }
        }
    }

    /// Runs a libpq job on the client's thread pool and waits for it.
    func run<T: Sendable>(_ job: @escaping @Sendable () throws(PostgresError) -> T) async throws(PostgresError) -> T {
        if Task.isCancelled {
            throw PostgresError(code: .cancelled, message: "cancelled before the statement was sent")
        }
        // `submit` rather than `runIfActive`, and an unsafe continuation: measurably less work per statement, which
        // the pgbench comparison showed matters. Safe because NIOThreadPool calls a submitted closure exactly once,
        // with `.active` or, when the pool has stopped, `.cancelled`, and each path below resumes exactly once.
        typealias Continuation = UnsafeContinuation<Result<T, PostgresError>, Never>
        let result = await withUnsafeContinuation { (continuation: Continuation) in
            self.threadPool.submit { state in
                guard case .active = state else {
                    continuation.resume(returning: .failure(ConnectionPool.shutDownError))
                    return
                }
                continuation.resume(returning: LibPQThread.run { Result { () throws(PostgresError) in try job() } })
            }
        }
        return try result.get()
    }
}
