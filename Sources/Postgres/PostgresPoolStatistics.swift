/// A snapshot of a client's connection pool.
public struct PostgresPoolStatistics: Sendable, Hashable, CustomStringConvertible {
    /// The most connections the pool may open (``PostgresConfiguration/poolSize``).
    public var size: Int
    /// Connections open or being opened: `inUse + idle`.
    public var open: Int
    /// Connections leased to a query or a transaction right now.
    public var inUse: Int
    /// Open connections waiting for work.
    public var idle: Int
    /// Callers waiting for a connection.
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
        "size: \(self.size), open: \(self.open), inUse: \(self.inUse), idle: \(self.idle), waiting: \(self.waiting)"
    }
}
