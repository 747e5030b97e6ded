import NIOCore

/// Where a ``RedisClient`` connects and how its pool behaves.
///
/// Build one from a URL with ``init(url:)``, then adjust the pool settings. Printing a configuration shows
/// ``redactedDescription``: the password never appears in logs.

public struct RedisConfiguration: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The server's address.
    public enum Endpoint: Sendable, Hashable {
        /// A TCP server; `host` is a name or an IP address (IPv6 without brackets).
        case tcp(host: String, port: Int)
        /// A server on a Unix domain socket, by its absolute path.
        case unixSocket(path: String)
    }

    /// The databases a URL may select: Redis' default `databases 16`.
    public static let databaseRange = 0...15

    /// The server's address.
    public var endpoint: Endpoint
    /// The database every connection selects after connecting (`SELECT`), 0 by default.
    public var database: Int
    /// The ACL user for `AUTH`, if any (Redis 6 and later); `nil` authenticates as the default user.
    public var username: String?
    /// The password for `AUTH`. Stored in a wrapper whose descriptions and mirror hide it, so that
    /// `dump(configuration)` and string interpolation cannot leak it.
    private var secret: RedisSecret?
    /// The number of connections; 10 by default.
    public var poolSize: Int = 10
    /// The number of threads that run hiredis' blocking calls; `nil` (the default) means one per connection, up
    /// to four per core (``effectiveThreadCount``).
    ///
    /// Fewer threads than connections raise throughput under many concurrent callers on a small machine: a
    /// thread that finishes a command finds the next one queued instead of sleeping, and the kernel switches
    /// threads less often (measured on 2 cores, 50 callers: 47% of redis-benchmark's GET rate with 50 threads,
    /// 67% with 8). The price: a command that blocks on the server (`BLPOP`, `XREAD BLOCK`, a slow script) holds
    /// a thread, and the other commands queue behind it; a client that issues many blocking commands at once
    /// should set this to its pool size.
    public var threadCount: Int?

    /// The threads the client runs: ``threadCount`` if set, else one per connection up to four per core.
    public var effectiveThreadCount: Int {
        max(1, threadCount ?? min(poolSize, 4 * System.coreCount))
    }
    /// How long opening a connection may take; 2 seconds by default.
    public var connectTimeout: Duration = .seconds(2)
    /// How long a command may wait for its reply (hiredis' `redisSetTimeout`); 2 seconds by default.
    /// A connection whose command timed out is closed, since its reply may still arrive. `.zero` waits forever.
    public var commandTimeout: Duration = .seconds(2)
    /// How long a caller waits for a free connection when all are busy; 5 seconds by default.
    public var acquireTimeout: Duration = .seconds(5)

    /// Creates a configuration from its parts.
    /// - Parameters:
    ///   - endpoint: The server's address.
    ///   - database: The database to select.
    ///   - username: The ACL user, if any.
    ///   - password: The password, if the server requires one.
    public init(endpoint: Endpoint, database: Int = 0, username: String? = nil, password: String? = nil) {
        self.endpoint = endpoint
        self.database = database
        self.username = username
        self.secret = password.map(RedisSecret.init)
    }

    /// The password for `AUTH`, if any.
    public var password: String? {
        get { self.secret?.value }
        set { self.secret = newValue.map(RedisSecret.init) }
    }

    /// The configuration as a URL with the password replaced by `***`, for logs and error messages.
    public var redactedDescription: String {
        var credentials = ""
        if self.username != nil || self.secret != nil {
            credentials = (self.username.map(Self.percentEncoded) ?? "") + (self.secret == nil ? "" : ":***") + "@"
        }
        switch self.endpoint {
        case .tcp(let host, let port):
            let bracketed = host.contains(":") ? "[\(host)]" : host
            return "redis://\(credentials)\(bracketed):\(port)/\(self.database)"
        case .unixSocket(let path):
            return "unix://\(credentials)\(path)" + (self.database == 0 ? "" : "?db=\(self.database)")
        }
    }

    /// The server's address alone, without credentials or database: what error messages name.
    var target: String {
        switch self.endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): path
        }
    }

    public var description: String { self.redactedDescription }
    public var debugDescription: String { "RedisConfiguration(\(self.redactedDescription))" }

    private static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += byte < 16 ? "%0\(hex)" : "%\(hex)"
            }
        }
        return encoded
    }
}
