import NIOCore

/// The pool's bookkeeping, without I/O, locks or time: each event returns what the caller must do, so the
/// rules (LIFO reuse, FIFO waiters, hand-over on release, shutdown) are unit-tested on their own.
///
/// All slots exist from the start; whether a slot holds an open connection is the connection's business.
struct RedisPoolStateMachine<Connection, Waiter> {
    enum AcquireAction {
        /// Use this connection.
        case use(Connection)
        /// All connections are busy: wait (call `enqueue`).
        case wait
        /// The pool was shut down.
        case fail
    }

    enum EnqueueAction {
        /// A connection came free since `acquire`: use it and do not wait.
        case use(Connection)
        /// The waiter was queued; it will be handed a connection, or removed by a timeout or cancellation.
        case queued
        /// The pool was shut down.
        case fail
    }

    enum ReleaseAction {
        /// Give the connection to this waiter, who was the longest waiting.
        case handOver(Connection, to: Waiter)
        /// The connection went back to the pool.
        case keep
        /// The pool was shut down: close the connection.
        case close(Connection)
    }

    struct ShutdownAction {
        /// Callers still waiting, to be failed.
        var waiters: [Waiter]
        /// Idle connections, to be closed.
        var connections: [Connection]
    }

    /// Free connections; the last is the most recently used, so reuse keeps few connections warm.
    private(set) var available: [Connection]
    private var waiters: CircularBuffer<(id: Int, waiter: Waiter)>
    private(set) var inUse = 0
    private(set) var isShutDown = false
    let size: Int

    init(connections: [Connection]) {
        self.available = connections
        self.size = connections.count
        self.waiters = CircularBuffer(initialCapacity: 8)
    }

    var waitingCount: Int {
        self.waiters.count
    }

    mutating func acquire() -> AcquireAction {
        if self.isShutDown {
            return .fail
        }
        // Waiters come first: a newcomer must not overtake callers already queued.
        if self.waiters.isEmpty, let connection = self.available.popLast() {
            self.inUse += 1
            return .use(connection)
        }
        return .wait
    }

    mutating func enqueue(id: Int, waiter: Waiter) -> EnqueueAction {
        if self.isShutDown {
            return .fail
        }
        if self.waiters.isEmpty, let connection = self.available.popLast() {
            self.inUse += 1
            return .use(connection)
        }
        self.waiters.append((id, waiter))
        return .queued
    }

    /// Removes a waiter whose time ran out or whose task was cancelled; `nil` if it was already served.
    mutating func removeWaiter(id: Int) -> Waiter? {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else {
            return nil
        }
        return self.waiters.remove(at: index).waiter
    }

    mutating func release(_ connection: Connection) -> ReleaseAction {
        if self.isShutDown {
            self.inUse -= 1
            return .close(connection)
        }
        if let next = self.waiters.popFirst() {
            // Stays in use: it changes hands without going back to the pool.
            return .handOver(connection, to: next.waiter)
        }
        self.inUse -= 1
        self.available.append(connection)
        return .keep
    }

    mutating func shutdown() -> ShutdownAction {
        guard !self.isShutDown else {
            return ShutdownAction(waiters: [], connections: [])
        }
        self.isShutDown = true
        let action = ShutdownAction(waiters: self.waiters.map(\.waiter), connections: self.available)
        self.waiters.removeAll()
        self.available.removeAll()
        return action
    }
}

extension RedisPoolStateMachine {
    /// Removes the waiters at the front of the queue (the longest waiting) for which `expired` holds, stopping at
    /// the first for which it does not.
    mutating func removeLeadingWaiters(while expired: (Waiter) -> Bool) -> [Waiter] {
        var removed: [Waiter] = []
        while let first = self.waiters.first, expired(first.waiter) {
            removed.append(self.waiters.removeFirst().waiter)
        }
        return removed
    }

    /// The longest-waiting waiter.
    var firstWaiter: Waiter? {
        self.waiters.first?.waiter
    }
}

extension RedisPoolStateMachine: Sendable where Connection: Sendable, Waiter: Sendable {}
