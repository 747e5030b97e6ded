extension RedisConfiguration {
    /// Parses a Redis URL.
    ///
    /// Accepted forms:
    /// - `redis://[[user]:password@]host[:port][/db]`, port 6379 and database 0 by default; an IPv6 host is
    ///   written in brackets (`redis://[::1]:6379`);
    /// - `unix://[[user]:password@]/absolute/path/to/redis.sock[?db=N]`.
    ///
    /// User and password may be percent-encoded. The database must be in ``databaseRange``.
    ///
    /// - Parameter url: The URL.
    /// - Throws: ``RedisError`` with code ``RedisError/Code/invalidConfiguration`` naming what is wrong. The
    ///   message never contains the password, nor any part of the URL that might be one.
    public init(url: String) throws(RedisError) {
        guard let separator = url.firstRange(of: "://") else {
            throw Self.invalid("expected a URL starting with redis:// or unix://")
        }
        let scheme = url[..<separator.lowerBound].lowercased()
        let rest = url[separator.upperBound...]
        switch scheme {
        case "redis":
            self = try Self.parseTCP(rest)
        case "unix":
            self = try Self.parseUnix(rest)
        default:
            // Echo the scheme only when it looks like one: text before "://" could be anything.
            let shown = scheme.count <= 16 && scheme.allSatisfy { $0.isLetter || $0.isNumber } ? " '\(scheme)'" : ""
            throw Self.invalid("unsupported scheme\(shown); expected redis:// or unix://")
        }
    }

    private static func parseTCP(_ rest: Substring) throws(RedisError) -> RedisConfiguration {
        let (beforeQuery, query) = Self.split(rest, at: "?")
        if query != nil {
            throw Self.invalid("redis:// URLs take no query parameters; write the database as the path (/N)")
        }
        let (authority, path) = Self.split(beforeQuery, at: "/")
        let (credentials, hostAndPort) = Self.splitCredentials(authority)
        let (username, password) = try Self.parseCredentials(credentials)
        let (host, port) = try Self.parseHostAndPort(hostAndPort)
        let database = try Self.parseDatabase(path.map { Substring($0) } ?? "")
        return RedisConfiguration(
            endpoint: .tcp(host: host, port: port),
            database: database,
            username: username,
            password: password
        )
    }

    private static func parseUnix(_ rest: Substring) throws(RedisError) -> RedisConfiguration {
        let (beforeQuery, query) = Self.split(rest, at: "?")
        var path = beforeQuery
        var credentials: Substring?
        // Credentials, if any, come before the absolute path: unix://:password@/path.
        if !path.hasPrefix("/"), let at = path.firstRange(of: "@/") {
            credentials = path[..<at.lowerBound]
            path = path[path.index(after: at.lowerBound)...]
        }
        guard !path.isEmpty else {
            throw Self.invalid("unix:// URL has an empty socket path")
        }
        guard path.hasPrefix("/") else {
            throw Self.invalid("unix:// URL needs an absolute socket path (unix:///path/to/redis.sock)")
        }
        // sun_path holds 108 bytes including the terminating NUL on Linux.
        guard path.utf8.count <= 107 else {
            throw Self.invalid("unix socket path is longer than 107 bytes")
        }
        let (username, password) = try Self.parseCredentials(credentials)
        var database = 0
        if let query {
            for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
                let (name, value) = Self.split(parameter, at: "=")
                guard name == "db", let value else {
                    throw Self.invalid("unix:// URLs accept only the query parameter db=N")
                }
                database = try Self.parseDatabaseNumber(value)
            }
        }
        return RedisConfiguration(
            endpoint: .unixSocket(path: String(path)),
            database: database,
            username: username,
            password: password
        )
    }

    private static func splitCredentials(_ authority: Substring) -> (credentials: Substring?, rest: Substring) {
        // The last "@" ends the credentials: a password may itself contain "@".
        guard let at = authority.lastIndex(of: "@") else {
            return (nil, authority)
        }
        return (authority[..<at], authority[authority.index(after: at)...])
    }

    private static func parseCredentials(
        _ credentials: Substring?
    ) throws(RedisError) -> (username: String?, password: String?) {
        guard let credentials else {
            return (nil, nil)
        }
        guard let colon = credentials.firstIndex(of: ":") else {
            throw Self.invalid("credentials must be written ':password@' or 'user:password@'")
        }
        let user = credentials[..<colon]
        let password = credentials[credentials.index(after: colon)...]
        guard let decodedUser = Self.percentDecoded(user), let decodedPassword = Self.percentDecoded(password) else {
            throw Self.invalid("credentials contain an invalid percent-escape")
        }
        return (decodedUser.isEmpty ? nil : decodedUser, decodedPassword)
    }

    private static func parseHostAndPort(_ text: Substring) throws(RedisError) -> (host: String, port: Int) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw Self.invalid("IPv6 host is missing its closing bracket")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw Self.invalid("expected ':port' after the IPv6 host")
                }
                portText = after.dropFirst()
            }
        } else {
            (host, portText) = Self.split(text, at: ":")
        }
        guard !host.isEmpty else {
            throw Self.invalid("redis:// URL has no host")
        }
        guard let portText else {
            return (String(host), 6379)
        }
        // The port text is not echoed: in a mangled URL it could be a piece of a password.
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), portText.count <= 5,
            let port = Int(portText), (1...65535).contains(port)
        else {
            throw Self.invalid("the port must be a number in 1...65535")
        }
        return (String(host), port)
    }

    private static func parseDatabase(_ path: Substring) throws(RedisError) -> Int {
        // `path` is what follows the authority's "/": empty means database 0.
        path.isEmpty ? 0 : try Self.parseDatabaseNumber(path)
    }

    private static func parseDatabaseNumber(_ text: Substring) throws(RedisError) -> Int {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCIIDigit), let number = Int(text) else {
            throw Self.invalid("the database must be a number in \(Self.databaseRange)")
        }
        guard Self.databaseRange.contains(number) else {
            throw Self.invalid("database \(number) is out of range \(Self.databaseRange)")
        }
        return number
    }

    private static func split(_ text: Substring, at separator: Character) -> (Substring, Substring?) {
        guard let index = text.firstIndex(of: separator) else {
            return (text, nil)
        }
        return (text[..<index], text[text.index(after: index)...])
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
            else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func invalid(_ reason: String) -> RedisError {
        RedisError(.invalidConfiguration, message: "invalid Redis URL: \(reason)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
