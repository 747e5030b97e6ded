import CHiredis
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One slot of the pool: a hiredis context that is opened on first use and reopened after it fails.
///
/// Every method blocks (hiredis is synchronous), so they are called only from the client's `NIOThreadPool`.
///
/// `@unchecked Sendable` is safe because a connection is only ever touched by one thread at a time and every
/// hand-over between threads happens through a synchronising operation:
/// - while idle it sits in the pool's state, behind the pool's lock, and nobody calls it;
/// - a caller checks it out under that lock, and owns it exclusively until it checks it back in under the lock;
/// - while checked out, the owner passes it to a thread-pool thread through `NIOThreadPool.submit` (lock and
///   condition variable) and gets it back through a continuation resume, both of which order memory, and the
///   owner does not touch it while the thread-pool work runs.
/// The only state shared with other threads is `counter`, which is atomic.
final class RedisConnection: @unchecked Sendable {
    /// Distinguishes connections in log messages.
    let id: Int
    private var context: UnsafeMutablePointer<redisContext>?
    private let counter: RedisConnectionCounter

    init(id: Int, counter: RedisConnectionCounter) {
        self.id = id
        self.counter = counter
    }

    deinit {
        self.close()
    }

    /// Whether a hiredis context is open; read only by the connection's current owner.
    var isOpen: Bool {
        self.context != nil
    }

    /// Makes the connection ready for a command: closes it if it went stale while idle (the server restarted,
    /// `CLIENT KILL`, an idle timeout), then opens it if it is closed.
    func prepare(configuration: RedisConfiguration, logger: Logger) throws(RedisError) {
        if let context, jules_redis_is_stale(context) != 0 {
            logger.debug("discarding a Redis connection the server closed", metadata: ["redis.connection": "\(id)"])
            self.close()
        }
        if self.context == nil {
            try self.open(configuration: configuration)
            logger.debug(
                "opened a Redis connection",
                metadata: ["redis.connection": "\(id)", "redis.target": "\(configuration.target)"]
            )
        }
    }

    /// Closes the context, if open. Never blocks: it frees memory and closes a socket.
    func close() {
        guard let context else {
            return
        }
        redisFree(context)
        self.context = nil
        self.counter.decrement()
    }

    /// The open context, or an error if the connection was closed by a failure earlier in this checkout.
    func requireContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        guard let context else {
            throw RedisError(.connectionClosed, message: "the connection is closed")
        }
        return context
    }

    private func open(configuration: RedisConfiguration) throws(RedisError) {
        let timeout = timeval(configuration.connectTimeout)
        let opened: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port):
            opened = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unixSocket(let path):
            opened = redisConnectUnixWithTimeout(path, timeout)
        }
        guard let opened else {
            throw RedisError(.connectionFailed, message: "could not allocate a connection to \(configuration.target)")
        }
        guard opened.pointee.err == 0 else {
            let reason = String(cString: jules_redis_error_string(opened))
            redisFree(opened)
            throw RedisError(.connectionFailed, message: "could not connect to \(configuration.target): \(reason)")
        }
        if case .tcp = configuration.endpoint {
            // Lets the kernel notice a peer that vanished without closing, so a stale check can see it.
            _ = redisEnableKeepAlive(opened)
        }
        // The connect timeout also became the socket's I/O timeout; commands get their own.
        guard redisSetTimeout(opened, timeval(configuration.commandTimeout)) == REDIS_OK else {
            redisFree(opened)
            throw RedisError(.connectionFailed, message: "could not set the command timeout on a socket")
        }
        self.context = opened
        self.counter.increment()
        try self.handshake(configuration: configuration)
    }

    /// `AUTH` and `SELECT`; a failure closes the connection and reports it as a failed connect.
    private func handshake(configuration: RedisConfiguration) throws(RedisError) {
        do throws(RedisError) {
            if let password = configuration.password {
                var command: [RedisArgument] = ["AUTH"]
                if let username = configuration.username {
                    command.append(RedisArgument(username))
                }
                command.append(RedisArgument(password))
                _ = try self.execute(command).get()
            }
            if configuration.database != 0 {
                _ = try self.execute(["SELECT", RedisArgument(configuration.database)]).get()
            }
        } catch {
            self.close()
            throw RedisError(
                .connectionFailed,
                message: "could not set up a connection to \(configuration.target) (\(error.message))",
                serverMessage: error.serverMessage
            )
        }
    }
}

extension timeval {
    /// A `timeval` for a duration, rounded down to microseconds.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: time_t(seconds), tv_usec: suseconds_t(attoseconds / 1_000_000_000_000))
    }
}
