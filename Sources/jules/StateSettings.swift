#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser

/// Conversation-state settings, from `JULES_STATE_*` and `JULES_INSTANCE_ID`.
struct StateSettings {
    var ttl: Duration
    var maximumStateBytes: Int
    var persistBatchSize: Int
    var persistInterval: Duration
    var reclaimIdle: Duration
    /// This instance's name among the persisters sharing the journal.
    var instanceID: String
    /// Prefix of every Redis key of conversation state.
    var keyPrefix: String

    init() throws {
        ttl = .seconds(try Environment.integer("JULES_STATE_TTL", default: 300, range: 1...86_400 * 30))
        maximumStateBytes = try Environment.integer(
            "JULES_STATE_MAX_BYTES", default: 64 * 1024, range: 256...(16 * 1024 * 1024))
        persistBatchSize = try Environment.integer("JULES_STATE_PERSIST_BATCH", default: 5000, range: 1...10_000)
        persistInterval = .milliseconds(
            try Environment.integer("JULES_STATE_PERSIST_INTERVAL_MS", default: 50, range: 0...10_000))
        reclaimIdle = .milliseconds(
            try Environment.integer("JULES_STATE_RECLAIM_IDLE_MS", default: 30_000, range: 100...3_600_000))
        keyPrefix = Environment.string("JULES_STATE_KEY_PREFIX") ?? "jules:state:"
        guard keyPrefix.utf8.count <= 64, keyPrefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ValidationError("JULES_STATE_KEY_PREFIX must be 1 to 64 printable ASCII characters without spaces")
        }
        if let given = Environment.string("JULES_INSTANCE_ID") {
            // It names this instance in Redis (the journal's consumer) and on the SMS rows it holds.
            guard (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ValidationError("JULES_INSTANCE_ID must be 1 to 128 printable ASCII characters without spaces")
            }
            instanceID = given
        } else {
            var name = [CChar](repeating: 0, count: 256)
            let host =
                gethostname(&name, name.count - 1) == 0
                ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "jules"
            instanceID = "\(host)-\(getpid())"
        }
    }
}
