/// The names of the statements one connection has prepared, keyed by SQL text and parameter types.
///
/// Preparing once per connection lets the server skip parsing and planning on every later execution, which roughly
/// halves its work for short statements. When the cache is full it is emptied (with `DEALLOCATE ALL` on the server):
/// simpler than LRU bookkeeping, and rare for an application with a fixed set of statements.
struct PreparedStatementCache {
    struct Key: Hashable {
        var sql: String
        var types: [UInt32]
    }

    let capacity: Int
    private var names: [Key: String] = [:]
    private var counter = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var isEnabled: Bool { self.capacity > 0 }
    var isFull: Bool { self.names.count >= self.capacity }

    func name(for key: Key) -> String? {
        self.names[key]
    }

    /// Reserves a name, unique on this connection for its lifetime, so a forgotten statement never collides.
    mutating func insert(_ key: Key) -> String {
        self.counter += 1
        let name = "jules_\(self.counter)"
        self.names[key] = name
        return name
    }

    mutating func remove(_ key: Key) {
        self.names[key] = nil
    }

    mutating func removeAll() {
        self.names.removeAll()
    }
}
