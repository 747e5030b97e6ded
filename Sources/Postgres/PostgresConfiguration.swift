import CLibPQ

/// Where and how ``PostgresClient`` connects, and how its pool behaves.
///
/// The password stays inside this value: `description`, `debugDescription`, `dump(_:)` and
/// ``redactedDescription`` all leave it out, so a configuration can be logged as it is.
public struct PostgresConfiguration: Sendable {
    /// The number of connections the pool may open, and the number of threads doing their blocking work.
    public var poolSize: Int = 10
    /// How long opening one connection may take (libpq's `connect_timeout`, rounded up to whole seconds; libpq
    /// treats anything below 2 s as 2 s).
    public var connectTimeout: Duration
    /// The server-side `statement_timeout` of every connection; `nil` keeps the server's default.
    public var statementTimeout: Duration? = .seconds(30)
    /// How long a caller waits for a free connection before it gets ``PostgresError/Code/poolTimeout``.
    public var acquireTimeout: Duration = .seconds(5)
    /// Shown in `pg_stat_activity.application_name`.
    public var applicationName: String
    /// How many parameterised statements each connection keeps prepared (default 100). Preparing once lets the
    /// server skip parsing and planning on later runs; 0 sends every statement unprepared (`PQexecParams`), for
    /// poolers that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    public var preparedStatementCacheSize = 100

    /// The parsed connection string, in order, without the keywords this type manages itself.
    let parameters: [(keyword: String, value: String)]
    /// Kept apart from `parameters` only to be able to scrub it from messages.
    let password: String?
    /// `options` from the connection string, which ours are appended to.
    private let userOptions: String?

    /// Keywords that have a dedicated property or that the client must control (see ``connectionParameters()``).
    private static let managedKeywords: Set<String> = [
        "connect_timeout", "application_name", "options", "client_encoding",
    ]

    /// Parses a connection string.
    ///
    /// Accepts a `postgres://` or `postgresql://` URL or a libpq `key=value` conninfo string, Unix-socket hosts
    /// included, e.g. `postgresql://jules@/jules?host=/tmp/x/postgres&port=5432`.
    /// Values given in the string for `connect_timeout` and `application_name` become the defaults of
    /// ``connectTimeout`` and ``applicationName``.
    ///
    /// - Parameter connectionString: The URL or conninfo string.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/invalidConfiguration`` when libpq rejects the
    ///   string; its message never contains the password.
    public init(connectionString: String) throws(PostgresError) {
        try Self.checkURLCredentials(connectionString)
        let parsed = try Self.parse(connectionString)
        var parameters: [(keyword: String, value: String)] = []
        var password: String?
        var userOptions: String?
        var connectTimeout = Duration.seconds(5)
        var applicationName = "jules"
        for (keyword, value) in parsed {
            switch keyword {
            case "password": password = value
            case "options": userOptions = value
            case "application_name": applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw PostgresError(code: .invalidConfiguration, message: "connect_timeout is not a number")
                }
                connectTimeout = .seconds(seconds)
            default: break
            }
            if !Self.managedKeywords.contains(keyword) {
                parameters.append((keyword, value))
            }
        }
        self.parameters = parameters
        self.password = password
        self.userOptions = userOptions
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
    }

    /// Refuses a URL whose credentials libpq would split in the wrong place. libpq reads credentials up to the first
    /// `@` or `/`: in `postgresql://u:pa/ss@h/db` it finds none and takes `u` as the host and `pa` as the port,
    /// and in `postgresql://u:p@ss@h/db` it takes `ss@h` as the host. Either way part of the password would be shown
    /// as a host, port or database name in ``redactedDescription``, and so in logs. Before the query, a URL may
    /// have at most one `@`, and no `/` before it.
    private static func checkURLCredentials(_ text: String) throws(PostgresError) {
        let scalars = Array(text.unicodeScalars)
        let scheme = scalars.prefix { $0 != ":" }
        guard ["postgres", "postgresql"].contains(String(String.UnicodeScalarView(scheme)).lowercased()),
            scalars.dropFirst(scheme.count).starts(with: "://".unicodeScalars)
        else { return }
        let rest = scalars.dropFirst(scheme.count + 3).prefix { $0 != "?" }
        let ats = rest.indices.filter { rest[$0] == "@" }
        guard let firstAt = ats.first else { return }
        if ats.count > 1 || rest[..<firstAt].contains("/") {
            throw PostgresError(
                code: .invalidConfiguration,
                message: "an '@' or '/' in the user name, password or database name of a URL must be written %40 or %2F"
            )
        }
    }

    /// `host=... port=... dbname=... user=...` for logs and error messages; never the password.
    public var redactedDescription: String {
        let shown = ["host", "hostaddr", "port", "dbname", "user"]
        let pairs = shown.compactMap { keyword -> String? in
            self.parameters.first { $0.keyword == keyword }.map { "\(keyword)=\($0.value)" }
        }
        return pairs.isEmpty ? "(libpq defaults)" : pairs.joined(separator: " ")
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`.
    func connectionParameters() -> [(keyword: String, value: String)] {
        // The decoders rely on these: DateStyle ISO for timestamps, hex for bytea, extra_float_digits=3 so that even
        // pre-12 servers print doubles exactly, and UTF8 for String.
        var options = [self.userOptions, "-c DateStyle=ISO,MDY", "-c bytea_output=hex", "-c extra_float_digits=3"]
            .compactMap { $0 }
        if let statementTimeout {
            options.append("-c statement_timeout=\(max(1, statementTimeout.roundedUpMilliseconds))")
        }
        var result = self.parameters
        result.append(("client_encoding", "UTF8"))
        result.append(("application_name", self.applicationName))
        result.append(("options", options.joined(separator: " ")))
        let seconds = (self.connectTimeout.roundedUpMilliseconds + 999) / 1000
        if seconds > 0 {
            result.append(("connect_timeout", String(seconds)))
        }
        return result
    }

    /// Runs `PQconninfoParse`, which only parses (no I/O, no environment or service-file look-ups), so it may run on
    /// any thread.
    private static func parse(_ connectionString: String) throws(PostgresError) -> [(String, String)] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            let detail = errorMessage.map { String(cString: $0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            // libpq quotes the offending token, which may be part of the password: drop every quoted fragment.
            let cleaned = Redaction.quotedFragments(in: detail).trimmingTrailingWhitespace()
            throw PostgresError(code: .invalidConfiguration, message: "invalid connection string: \(cleaned)")
        }
        defer { PQconninfoFree(options) }
        var result: [(String, String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                result.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        return result
    }
}

extension PostgresConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "PostgresConfiguration(\(self.redactedDescription), poolSize: \(self.poolSize))"
    }

    public var debugDescription: String { self.description }

    /// Keeps `dump(_:)` and debuggers from listing the stored password.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "connection": self.redactedDescription, "poolSize": self.poolSize,
                "connectTimeout": self.connectTimeout, "statementTimeout": self.statementTimeout as Any,
                "acquireTimeout": self.acquireTimeout, "applicationName": self.applicationName,
                "preparedStatementCacheSize": self.preparedStatementCacheSize,
            ]
        )
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a tiny positive duration never becomes 0 ("no limit" to PostgreSQL).
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        let extra = (attoseconds + attosecondsPerMillisecond - 1) / attosecondsPerMillisecond
        return seconds * 1000 + extra
    }
}
