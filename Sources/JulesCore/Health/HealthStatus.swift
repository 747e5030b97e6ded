import Postgres
import Redis

/// A component's verdict, ordered from best to worst so the overall status is the maximum.
public enum HealthStatus: String, Sendable, Encodable, Comparable {
    case healthy
    case degraded
    case unhealthy

    private var rank: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .unhealthy: 2
        }
    }

    public static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool { lhs.rank < rhs.rank }
}

/// The limits past which a working component is reported `degraded`.
public struct HealthThresholds: Sendable {
    /// Round-trip time of `SELECT 1`.
    public var databaseLatency: Duration
    /// Round-trip time of `PING`.
    public var redisLatency: Duration
    /// Redis `used_memory / maxmemory`.
    public var redisMemoryRatio: Double
    /// How long one component's check may take before it counts as down.
    public var checkTimeout: Duration
    /// Age of the oldest conversation-state update not yet in PostgreSQL.
    public var statePersistLag: Duration
    /// How long a message ready to go may wait before the SMS sender counts as degraded.
    public var smsBacklogAge: Duration

    public init(
        databaseLatency: Duration = .milliseconds(100),
        redisLatency: Duration = .milliseconds(50),
        redisMemoryRatio: Double = 0.9,
        checkTimeout: Duration = .seconds(2),
        statePersistLag: Duration = .seconds(5),
        smsBacklogAge: Duration = .seconds(60)
    ) {
        self.databaseLatency = databaseLatency
        self.redisLatency = redisLatency
        self.redisMemoryRatio = redisMemoryRatio
        self.checkTimeout = checkTimeout
        self.statePersistLag = statePersistLag
        self.smsBacklogAge = smsBacklogAge
    }
}

/// Pool figures, common to the database and Redis reports.
public struct PoolReport: Sendable, Encodable {
    public var size: Int
    public var open: Int
    public var inUse: Int
    public var idle: Int
    public var waiting: Int

    enum CodingKeys: String, CodingKey {
        case size, open, idle, waiting
        case inUse = "in_use"
    }
}

extension PoolReport {
    init(_ statistics: PostgresPoolStatistics) {
        self.init(
            size: statistics.size,
            open: statistics.open,
            inUse: statistics.inUse,
            idle: statistics.idle,
            waiting: statistics.waiting
        )
    }

    init(_ statistics: RedisPoolStatistics) {
        self.init(
            size: statistics.size,
            open: statistics.open,
            inUse: statistics.inUse,
            idle: statistics.idle,
            waiting: statistics.waiting
        )
    }
}

extension Duration {
    /// Whole milliseconds, rounded down: what SQL intervals, Redis and PostgreSQL timeouts take.
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, for timers.
    var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Milliseconds with microsecond precision, for reports.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return (Double(seconds) * 1000 + Double(attoseconds) / 1e15).rounded(toPlaces: 3)
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
