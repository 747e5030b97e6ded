/// A snapshot of a ``RedisClient``'s connection pool.
public struct RedisPoolStatistics: Sendable, Hashable, CustomStringConvertible {
    /// The most connections the pool may hold (``RedisConfiguration/poolSize``).
    public var size: Int
    /// Connections currently open to the server, in use or idle.
    public var open: Int
    /// Connections checked out by a caller.
    public var inUse: Int
    /// Open connections waiting in the pool for a caller.
    public var idle: Int
    /// Callers waiting for a connection because all are in use.
    public var waiting: Int

    /// Creates a snapshot.
    public init(size: Int, open: Int, inUse: Int, idle: Int, waiting: Int) {
        self.size = size
        self.open = open
        self.inUse = inUse
        self.idle = idle
        self.waiting = waiting
    }

    public var description: String {
        "size=\(self.size) open=\(self.open) inUse=\(self.inUse) idle=\(self.idle) waiting=\(self.waiting)"
    }
}
