import NIOCore

/// The pool's bookkeeping, free of I/O, locks and timers: each event returns what the caller must do.
///
/// Generic over the connection and waiter types so that the tests can drive it with plain values.
///
/// A "lease" counts from checkout to release and includes a connection that is still being opened, so
/// `idle.count + leased` never exceeds `maxSize`. Waiters are served first come, first served.
struct PoolStateMachine<Connection: Sendable, Waiter: Sendable>: Sendable {
    enum AcquireAction {
        /// Use this idle connection.
        case use(Connection)
        /// A slot was reserved: make a new connection (it connects on first use).
        case create
        /// Nothing free; when a waiter was given it was queued, otherwise call again with one.
        case wait
        /// The pool is shutting down.
        case shutDown
    }

    enum ReleaseAction {
        case none
        /// Resume this waiter with the released connection.
        case handOver(Connection, Waiter)
        /// The released connection is gone; resume this waiter with a new connection in its slot.
        case create(for: Waiter)
        /// The pool is shutting down: close this connection.
        case close(Connection)
    }

    private enum Lifecycle {
        case running
        case shuttingDown
    }

    let maxSize: Int
    private var idle: [Connection] = []
    private(set) var leased = 0
    private var waiters = CircularBuffer<(id: Int, waiter: Waiter)>()
    private var lifecycle = Lifecycle.running

    init(maxSize: Int) {
        self.maxSize = max(1, maxSize)
    }

    var statistics: PostgresPoolStatistics {
        PostgresPoolStatistics(
            size: self.maxSize,
            open: self.idle.count + self.leased,
            inUse: self.leased,
            idle: self.idle.count,
            waiting: self.waiters.count
        )
    }

    var isShuttingDown: Bool {
        if case .shuttingDown = self.lifecycle { return true }
        return false
    }

    /// Whether the last lease is back after a shutdown began.
    var isDrained: Bool { self.isShuttingDown && self.leased == 0 }

    mutating func acquire(waiter: (id: Int, waiter: Waiter)? = nil) -> AcquireAction {
        guard case .running = self.lifecycle else { return .shutDown }
        // Only overtake queued waiters when there are none: otherwise a stream of new callers could starve them.
        if self.waiters.isEmpty {
            // LIFO: the most recently used connection is the one most likely still alive and warm.
            if let connection = self.idle.popLast() {
                self.leased += 1
                return .use(connection)
            }
            if self.leased < self.maxSize {
                self.leased += 1
                return .create
            }
        }
        if let waiter {
            self.waiters.append(waiter)
        }
        return .wait
    }

    /// Returns a leased connection. `reusable` is false for a connection that broke or must be closed; its slot is
    /// then freed (or passed to the next waiter as a fresh connection).
    mutating func release(_ connection: Connection, reusable: Bool) -> ReleaseAction {
        if case .running = self.lifecycle, let next = self.waiters.popFirst() {
            return reusable ? .handOver(connection, next.waiter) : .create(for: next.waiter)
        }
        self.leased -= 1
        precondition(self.leased >= 0, "released more connections than were leased")
        switch self.lifecycle {
        case .running:
            if reusable { self.idle.append(connection) }
            return .none
        case .shuttingDown:
            return .close(connection)
        }
    }

    /// Adds a connection opened outside a lease (the start-up connection). Returns false when it does not fit.
    mutating func adopt(_ connection: Connection) -> ReleaseAction? {
        guard case .running = self.lifecycle, self.idle.count + self.leased < self.maxSize else { return nil }
        self.leased += 1
        return self.release(connection, reusable: true)
    }

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

    /// Removes a waiter that timed out or was cancelled; `nil` when it was already served.
    mutating func removeWaiter(id: Int) -> Waiter? {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return self.waiters.remove(at: index).waiter
    }

    /// Starts the shutdown: returns the idle connections to close and the waiters to fail, or `nil` when a shutdown
    /// had already begun.
    mutating func shutdown() -> (idle: [Connection], waiters: [Waiter])? {
        guard case .running = self.lifecycle else { return nil }
        self.lifecycle = .shuttingDown
        let idle = self.idle
        let waiters = self.waiters.map(\.waiter)
        self.idle = []
        self.waiters.removeAll()
        return (idle, waiters)
    }
}
