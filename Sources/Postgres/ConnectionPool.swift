import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Leases connections to callers: runs ``PoolStateMachine`` under a lock and performs what it decides (resuming
/// waiters, arming acquire timeouts, closing connections on the thread pool).
final class ConnectionPool: Sendable {
    private struct Waiter: Sendable {
        let continuation: CheckedContinuation<Result<PostgresConnection, PostgresError>, Never>
        /// When it fails with `.poolTimeout`. Waiters queue in order and share one timeout, so the first in the
        /// queue always expires first.
        let deadline: NIODeadline
    }

    private struct State: Sendable {
        var machine: PoolStateMachine<PostgresConnection, Waiter>
        var nextID = 0
        /// Connections released after shutdown began, closed by ``drain()``.
        var released: [PostgresConnection] = []
        var drainContinuation: CheckedContinuation<Void, Never>?
        /// Whether a timer is armed for the first waiter's deadline. One timer serves the whole queue: arming and
        /// cancelling one per waiter cost two event-loop wake-ups per wait, which showed under load.
        var expiryArmed = false
    }

    private let state: NIOLockedValueBox<State>
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let threadPool: NIOThreadPool
    /// Only arms acquire timeouts; no libpq call ever runs on it.
    private let timerLoop: any EventLoop

    init(configuration: PostgresConfiguration, logger: Logger, threadPool: NIOThreadPool) {
        self.state = NIOLockedValueBox(State(machine: PoolStateMachine(maxSize: configuration.poolSize)))
        self.configuration = configuration
        self.logger = logger
        self.threadPool = threadPool
        self.timerLoop = MultiThreadedEventLoopGroup.singleton.next()
    }

    var statistics: PostgresPoolStatistics {
        self.state.withLockedValue { $0.machine.statistics }
    }

    var isShuttingDown: Bool {
        self.state.withLockedValue { $0.machine.isShuttingDown }
    }

    /// A new, not yet connected connection; it connects on its first ``PostgresConnection/prepareForUse()``.
    func makeConnection() -> PostgresConnection {
        let id = self.state.withLockedValue { state in
            state.nextID += 1
            return state.nextID
        }
        return PostgresConnection(id: id, configuration: self.configuration, logger: self.logger)
    }

    /// Leases a connection, waiting up to ``PostgresConfiguration/acquireTimeout`` for one to be free.
    func acquire() async throws(PostgresError) -> PostgresConnection {
        // Fast path without a continuation: most acquisitions find an idle connection or a free slot.
        let immediate = self.state.withLockedValue { $0.machine.acquire() }
        switch immediate {
        case .use(let connection): return connection
        case .create: return self.makeConnection()
        case .shutDown: throw Self.shutDownError
        case .wait: break
        }
        let id = self.state.withLockedValue { state in
            state.nextID += 1
            return state.nextID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                self.enqueue(id: id, continuation: continuation)
            }
        } onCancel: {
            self.failWaiter(id: id, with: PostgresError(code: .cancelled, message: "cancelled while waiting"))
        }
        return try result.get()
    }

    private func enqueue(
        id: Int,
        continuation: CheckedContinuation<Result<PostgresConnection, PostgresError>, Never>
    ) {
        guard !Task.isCancelled else {
            continuation.resume(returning: .failure(PostgresError(code: .cancelled, message: "cancelled")))
            return
        }
        let action = self.state.withLockedValue { state in
            let deadline = NIODeadline.now() + TimeAmount(self.configuration.acquireTimeout)
            let action = state.machine.acquire(waiter: (id, Waiter(continuation: continuation, deadline: deadline)))
            if case .wait = action, !state.expiryArmed {
                // Armed under the lock: the timer takes the lock too, so it sees the stored waiter.
                state.expiryArmed = true
                self.armExpiry(at: deadline)
            }
            return action
        }
        switch action {
        case .use(let connection): continuation.resume(returning: .success(connection))
        case .create: continuation.resume(returning: .success(self.makeConnection()))
        case .shutDown: continuation.resume(returning: .failure(Self.shutDownError))
        case .wait:
            // Cancelled between the check above and the waiter's arrival: the cancellation handler found no waiter
            // to fail then, so it is failed here (if it has not been served meanwhile).
            if Task.isCancelled {
                self.failWaiter(id: id, with: PostgresError(code: .cancelled, message: "cancelled while waiting"))
            }
        }
    }

    private func failWaiter(id: Int, with error: PostgresError) {
        guard let waiter = self.state.withLockedValue({ $0.machine.removeWaiter(id: id) }) else { return }
        waiter.continuation.resume(returning: .failure(error))
    }

    private func armExpiry(at deadline: NIODeadline) {
        self.timerLoop.scheduleTask(deadline: deadline) { self.expireWaiters() }
    }

    /// Fails the waiters whose deadline has passed, and re-arms the timer for the next one, if any.
    private func expireWaiters() {
        let expired = self.state.withLockedValue { state in
            let now = NIODeadline.now()
            let expired = state.machine.removeLeadingWaiters { $0.deadline <= now }
            if let next = state.machine.firstWaiter {
                self.armExpiry(at: next.deadline)
            } else {
                state.expiryArmed = false
            }
            return expired
        }
        let timeout = self.configuration.acquireTimeout
        for waiter in expired {
            let error = PostgresError(
                code: .poolTimeout,
                message: "no connection to \(self.configuration.redactedDescription) became free within \(timeout)"
            )
            waiter.continuation.resume(returning: .failure(error))
        }
    }

    /// Returns a leased connection. Must be called exactly once per ``acquire()``, after its last job finished.
    func release(_ connection: PostgresConnection) {
        let reusable = connection.isReusable
        if !reusable {
            // Broken connections already freed their PGconn; one left inside a transaction block must be closed.
            self.close(connection)
        }
        self.perform(self.state.withLockedValue { $0.machine.release(connection, reusable: reusable) })
    }

    /// Adds the start-up connection to the idle set; closes it when it does not fit (shutdown, pool already full).
    func adopt(_ connection: PostgresConnection) {
        guard let action = self.state.withLockedValue({ $0.machine.adopt(connection) }) else {
            self.close(connection)
            return
        }
        self.perform(action)
    }

    private func perform(_ action: PoolStateMachine<PostgresConnection, Waiter>.ReleaseAction) {
        switch action {
        case .none:
            break
        case .handOver(let connection, let waiter):
            waiter.continuation.resume(returning: .success(connection))
        case .create(let waiter):
            waiter.continuation.resume(returning: .success(self.makeConnection()))
        case .close(let connection):
            let drained = self.state.withLockedValue { state in
                state.released.append(connection)
                defer { if state.machine.isDrained { state.drainContinuation = nil } }
                return state.machine.isDrained ? state.drainContinuation : nil
            }
            drained?.resume()
        }
    }

    /// Closes on the thread pool without waiting. If the pool stops before the job runs, the connection's deinit
    /// closes it instead.
    private func close(_ connection: PostgresConnection) {
        self.threadPool.submit { state in
            guard case .active = state else { return }
            LibPQThread.run { connection.close() }
        }
    }

    /// Begins the shutdown: fails every waiter and returns the idle connections for the caller to close.
    func beginShutdown() -> [PostgresConnection]? {
        guard let (idle, waiters) = self.state.withLockedValue({ $0.machine.shutdown() }) else { return nil }
        for waiter in waiters {
            waiter.continuation.resume(returning: .failure(Self.shutDownError))
        }
        return idle
    }

    /// Waits until every lease is back, then returns the connections released meanwhile, for the caller to close.
    func drain() async -> [PostgresConnection] {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drained = self.state.withLockedValue { state in
                if state.machine.isDrained { return true }
                state.drainContinuation = continuation
                return false
            }
            if drained { continuation.resume() }
        }
        return self.state.withLockedValue { state in
            defer { state.released = [] }
            return state.released
        }
    }

    static let shutDownError = PostgresError(code: .shutDown, message: "the PostgreSQL client has been shut down")
}
