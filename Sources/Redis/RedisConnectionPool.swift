import NIOConcurrencyHelpers
import NIOCore

/// Lends connections to callers: at once when one is free, otherwise after a bounded, cancellable wait.
///
/// The rules live in ``RedisPoolStateMachine``; this type adds the lock, the suspended callers and their timers.
final class RedisConnectionPool: Sendable {
    private typealias Continuation = CheckedContinuation<Result<RedisConnection, RedisError>, Never>

    private struct Waiter {
        var continuation: Continuation
        /// When it fails with `.poolTimeout`. Waiters queue in order and share one timeout, so the first in the
        /// queue always expires first.
        var deadline: NIODeadline
    }

    private struct State {
        var machine: RedisPoolStateMachine<RedisConnection, Waiter>
        var nextWaiterID = 0
        /// Whether a timer is armed for the first waiter's deadline. One timer serves the whole queue: arming and
        /// cancelling one per waiter cost two event-loop wake-ups per wait, which showed under load.
        var expiryArmed = false
    }

    private let state: NIOLockedValueBox<State>
    private let acquireTimeout: TimeAmount
    private let timerLoop: any EventLoop
    let counter: RedisConnectionCounter

    /// - Parameters:
    ///   - size: The number of connections.
    ///   - acquireTimeout: How long a caller may wait for a free connection.
    ///   - timerLoop: Where the wait timers run; they only take the lock and resume a continuation.
    init(size: Int, acquireTimeout: Duration, timerLoop: any EventLoop) {
        let counter = RedisConnectionCounter()
        let connections = (0..<size).reversed().map { RedisConnection(id: $0, counter: counter) }
        self.counter = counter
        self.state = NIOLockedValueBox(State(machine: RedisPoolStateMachine(connections: connections)))
        self.acquireTimeout = TimeAmount(acquireTimeout)
        self.timerLoop = timerLoop
    }

    /// A connection for the caller's exclusive use, until it is given back with ``release(_:)``.
    func acquire() async throws(RedisError) -> RedisConnection {
        // The fast path takes the lock once and does not suspend.
        switch self.state.withLockedValue({ $0.machine.acquire() }) {
        case .use(let connection):
            return connection
        case .fail:
            throw Self.shutDownError
        case .wait:
            return try await self.wait().get()
        }
    }

    private func wait() async -> Result<RedisConnection, RedisError> {
        let id = self.state.withLockedValue { state in
            defer { state.nextWaiterID &+= 1 }
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Continuation) in
                let action = self.state.withLockedValue { state in
                    let deadline = NIODeadline.now() + self.acquireTimeout
                    let action = state.machine.enqueue(
                        id: id, waiter: Waiter(continuation: continuation, deadline: deadline))
                    if case .queued = action, !state.expiryArmed {
                        // Armed under the lock: the timer takes the lock too, so it sees the stored waiter.
                        state.expiryArmed = true
                        self.armExpiry(at: deadline)
                    }
                    return action
                }
                switch action {
                case .use(let connection):
                    continuation.resume(returning: .success(connection))
                case .fail:
                    continuation.resume(returning: .failure(Self.shutDownError))
                case .queued:
                    // A cancellation that came before the waiter was queued found nothing to remove.
                    if Task.isCancelled {
                        self.removeWaiter(id: id, error: Self.cancelledError)
                    }
                }
            }
        } onCancel: {
            self.removeWaiter(id: id, error: Self.cancelledError)
        }
    }

    private func removeWaiter(id: Int, error: RedisError) {
        guard let waiter = self.state.withLockedValue({ $0.machine.removeWaiter(id: id) }) else {
            return
        }
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
        for waiter in expired {
            waiter.continuation.resume(returning: .failure(Self.timeoutError(self.acquireTimeout)))
        }
    }

    /// Gives a connection back.
    /// - Returns: The connection if the pool was shut down; the caller must close it on the thread pool.
    func release(_ connection: RedisConnection) -> RedisConnection? {
        switch self.state.withLockedValue({ $0.machine.release(connection) }) {
        case .keep:
            return nil
        case .handOver(let connection, let waiter):
            waiter.continuation.resume(returning: .success(connection))
            return nil
        case .close(let connection):
            return connection
        }
    }

    /// Stops lending: fails the waiting callers.
    /// - Returns: The idle connections, for the caller to close on the thread pool.
    func shutdown() -> [RedisConnection] {
        let action = self.state.withLockedValue { $0.machine.shutdown() }
        for waiter in action.waiters {
            waiter.continuation.resume(returning: .failure(Self.shutDownError))
        }
        return action.connections
    }

    var statistics: RedisPoolStatistics {
        self.state.withLockedValue { state in
            // Idle connections are not being used by anyone, so reading `isOpen` under the lock is safe.
            let idle = state.machine.available.reduce(0) { $0 + ($1.isOpen ? 1 : 0) }
            return RedisPoolStatistics(
                size: state.machine.size,
                open: self.counter.open,
                inUse: state.machine.inUse,
                idle: idle,
                waiting: state.machine.waitingCount
            )
        }
    }

    private static let shutDownError = RedisError(.shutDown, message: "the Redis client was shut down")
    private static let cancelledError = RedisError(.cancelled, message: "cancelled while waiting for a connection")

    private static func timeoutError(_ timeout: TimeAmount) -> RedisError {
        RedisError(
            .poolTimeout,
            message: "no connection became free within \(Duration(timeout)); all are in use"
        )
    }
}
