import CHiredis
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// A Redis client over hiredis, with a pool of connections.
///
/// hiredis is synchronous, so every call into it runs on a `NIOThreadPool` that the client owns (see
/// ``RedisConfiguration/threadCount``); callers only await. Nothing blocks a
/// SwiftNIO event loop or the Swift concurrency pool. Tasks that mostly talk to Redis can run on the client's
/// threads (``executor``) and skip the hop there and back.
///
/// Connections open on first use and reopen by themselves: one that the server closed while idle (a restart,
/// `CLIENT KILL`) is noticed before it is reused, and one whose command failed or timed out is closed, since
/// a late reply would otherwise be read as the answer to the next command.
///
/// Call ``shutdown()`` before the last reference goes away.
///
/// Creating a client sets `SIGPIPE` to be ignored if it still has its default action (which ends the process):
/// hiredis writes with `write()`, and a write to a connection the server closed raises that signal.
public final class RedisClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: RedisConfiguration
    let logger: Logger
    private let threadPool: NIOThreadPool
    private let pool: RedisConnectionPool
    let loopConnections: RedisEventLoopConnections
    let threadPoolExecutor: RedisThreadPoolExecutor
    /// SHA1 of each script's source, learned from `SCRIPT LOAD`.
    let scriptHashes = NIOLockedValueBox<[String: String]>([:])
    private let isShutDown = Atomic<Bool>(false)

    /// Creates a client; it connects lazily, or eagerly with ``connect(retryFor:)``.
    /// - Parameters:
    ///   - configuration: The server and the pool settings.
    ///   - logger: Where connection events go, at debug level, and start-up at info level.
    ///   - eventLoopGroup: Runs the timers of callers waiting for a free connection, and the connections of
    ///     ``batchedCommand(_:)``: one per loop, used by the callers that run on that loop. Pass the group whose
    ///     loops run the callers (the server's), so that they never change thread for a command.
    public init(
        configuration: RedisConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        jules_redis_ignore_sigpipe()
        var configuration = configuration
        configuration.poolSize = max(1, configuration.poolSize)
        self.configuration = configuration
        self.logger = logger
        // Each thread blocks in read() while its command is in flight; see `RedisConfiguration.threadCount` for the
        // trade-off between fewer threads (less switching) and one per connection (no queueing behind BLPOP).
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.effectiveThreadCount)
        self.threadPool.start()
        self.threadPoolExecutor = RedisThreadPoolExecutor(threadPool: self.threadPool)
        self.pool = RedisConnectionPool(
            size: configuration.poolSize,
            acquireTimeout: configuration.acquireTimeout,
            timerLoop: eventLoopGroup.next()
        )
        self.loopConnections = RedisEventLoopConnections(
            group: eventLoopGroup,
            configuration: configuration,
            counter: self.pool.counter,
            logger: logger
        )
    }

    deinit {
        if !self.isShutDown.load(ordering: .relaxed) {
            self.logger.warning("RedisClient deinitialised without shutdown(); shutting its threads down now")
            self.threadPool.shutdownGracefully { _ in }
        }
    }

    /// Opens a connection and checks it with `PING`, retrying with exponential backoff: for start-up, when
    /// the server may still be starting.
    ///
    /// - Parameter retryFor: How long to keep trying. One attempt may overrun it by up to `connectTimeout`.
    /// - Throws: ``RedisError`` with code ``RedisError/Code/connectionFailed`` naming the server (its
    ///   ``RedisConfiguration/redactedDescription``) and the last failure; `.shutDown` or `.cancelled` at once.
    public func connect(retryFor: Duration) async throws(RedisError) {
        let clock = ContinuousClock()
        let deadline = clock.now + retryFor
        var delay = Duration.milliseconds(50)
        var attempts = 0
        while true {
            attempts += 1
            do throws(RedisError) {
                try await self.ping()
                self.logger.info("connected to Redis", metadata: ["redis.target": "\(self.configuration.target)"])
                return
            } catch {
                if error.code == .shutDown || error.code == .cancelled {
                    throw error
                }
                let remaining = deadline - clock.now
                guard remaining > .zero else {
                    throw RedisError(
                        .connectionFailed,
                        message: "could not reach Redis at \(self.configuration.redactedDescription) within "
                            + "\(retryFor) (\(attempts) attempts); last error: \(error.message)",
                        serverMessage: error.serverMessage
                    )
                }
                self.logger.debug(
                    "Redis is not reachable yet; retrying",
                    metadata: ["redis.target": "\(self.configuration.target)", "redis.error": "\(error)"]
                )
                do {
                    try await Task.sleep(for: min(delay, remaining))
                } catch {
                    throw RedisError(.cancelled, message: "cancelled while connecting to Redis")
                }
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// An executor that runs tasks on the client's own threads.
    ///
    /// Each command otherwise costs two thread hand-overs: from the caller to the thread pool and back. A task
    /// that prefers this executor (`group.addTask(executorPreference: client.executor)`,
    /// `withTaskExecutorPreference(client.executor)`) already runs on a thread where blocking is allowed, so the
    /// client calls hiredis directly. Use it for tasks that mostly talk to Redis, such as a loop of commands:
    /// while such a task computes, it holds one of the `poolSize` threads.
    public var executor: any TaskExecutor {
        self.threadPoolExecutor
    }

    /// The connection pool as it is now.
    public var statistics: RedisPoolStatistics {
        self.pool.statistics
    }

    /// How many connections the client has opened since it started, reconnections included. A change tells a
    /// caller that the server may have restarted (and lost or replaced what it held) since it last looked.
    public var connectionsOpened: Int {
        self.pool.counter.openedTotal
    }

    /// Closes the connections and stops the threads, after the commands in flight finish. Waiting callers fail
    /// with `.shutDown`, as do later calls. Calling it again does nothing. The event loop group must still be
    /// running.
    public func shutdown() async {
        guard !self.isShutDown.exchange(true, ordering: .relaxed) else {
            return
        }
        self.close(self.pool.shutdown())
        do {
            try await self.threadPool.shutdownGracefully()
        } catch {
            self.logger.debug("the Redis thread pool did not shut down cleanly", metadata: ["error": "\(error)"])
        }
        await self.loopConnections.shutdown()
    }

    /// Runs `body` with a connection of the pool, on the thread pool: the one way the client calls hiredis.
    ///
    /// The connection is checked for staleness and (re)opened first. It goes back to the pool afterwards in
    /// every case: a failure that makes it unusable has already closed it, and it reopens on next use.
    func withConnection<Value: Sendable>(
        _ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> Value
    ) async throws(RedisError) -> Value {
        let connection = try await self.pool.acquire()
        let configuration = self.configuration
        let logger = self.logger
        let run = { @Sendable () -> Result<Value, RedisError> in
            Result { () throws(RedisError) -> Value in
                try connection.prepare(configuration: configuration, logger: logger)
                return try body(connection)
            }
        }
        let result: Result<Value, RedisError>
        if self.threadPoolExecutor.isCurrentThread {
            // The task prefers the client's executor and runs on one of its threads: no hop needed.
            result = run()
        } else {
            // A plain continuation, not `runIfActive`: it keeps the error typed and costs one hop each way.
            result = await withUnsafeContinuation { continuation in
                self.threadPool.submit { state in
                    // `.cancelled`: the pool stopped before running this item, so the client was shut down.
                    continuation.resume(returning: state == .active ? run() : .failure(Self.shutDownError))
                }
            }
        }
        if let closing = self.pool.release(connection) {
            self.close([closing])
        }
        return try result.get()
    }

    private static let shutDownError = RedisError(.shutDown, message: "the Redis client was shut down")

    /// Closes connections on the thread pool. After the pool stopped, `submit` runs the closure at once on
    /// this thread instead; that is acceptable because closing only frees memory and closes a socket.
    private func close(_ connections: [RedisConnection]) {
        guard !connections.isEmpty else {
            return
        }
        self.threadPool.submit { _ in
            for connection in connections {
                connection.close()
            }
        }
    }
}
