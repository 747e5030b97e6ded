extension RedisClient {
    /// Sends one command and returns its reply.
    ///
    /// - Parameter arguments: The command and its arguments, as byte strings: `["SET", key, value]`.
    /// - Throws: ``RedisError``: `.server` with ``RedisError/serverMessage`` for an error reply (such as
    ///   `WRONGTYPE ...`); `.timeout`, `.connectionClosed` and others when the connection failed.
    public func command(_ arguments: [RedisArgument]) async throws(RedisError) -> RedisReply {
        try await self.withConnection { connection throws(RedisError) in
            try connection.execute(arguments).get()
        }
    }

    /// Sends one command that the server answers at once, pipelined with the other such commands in flight.
    ///
    /// It is much cheaper than ``command(_:)-([RedisArgument])``: it goes out on a connection of the event loop
    /// the caller runs on (a JSON-RPC request's task does), written and read by that loop, so the caller never
    /// changes thread; and the commands sent from one loop in one turn of it leave in one write. A caller off the
    /// loops hops to one of them and back.
    ///
    /// Never use it for a command that blocks (`BLPOP`, `XREADGROUP … BLOCK`, `WAIT`): every command queued behind
    /// it would wait too. Nor for `MULTI`/`EXEC` or `SELECT`, which change the connection's state for the commands
    /// of other callers.
    ///
    /// - Throws: ``RedisError``, as ``command(_:)-([RedisArgument])``; when the connection fails, every command of
    ///   the same connection fails with it.
    public func batchedCommand(_ arguments: [RedisArgument]) async throws(RedisError) -> RedisReply {
        guard !arguments.isEmpty else {
            throw RedisError(.invalidArgument, message: "a command needs at least its name")
        }
        return try await self.loopConnections.send(arguments).get()
    }

    /// Sends one command given as strings (each sent as its UTF-8 bytes).
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisReply {
        try await self.command(arguments.map { RedisArgument($0) })
    }

    /// Sends several commands in one round trip on one connection, and returns one result per command.
    ///
    /// An error reply fails only its own command (`.failure` with code `.server`); the others still succeed.
    /// Commands are not atomic: wrap them in `MULTI`/`EXEC` for that.
    ///
    /// - Throws: ``RedisError`` when the connection failed (the whole pipeline's outcome is then unknown).
    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [Result<RedisReply, RedisError>] {
        guard !commands.isEmpty else {
            return []
        }
        return try await self.withConnection { connection throws(RedisError) in
            try connection.executePipeline(commands)
        }
    }

    /// Sends several commands given as strings in one round trip; see ``pipeline(_:)-([[RedisArgument]])``.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [Result<RedisReply, RedisError>] {
        try await self.pipeline(commands.map { $0.map { RedisArgument($0) } })
    }

    /// Checks that the server answers (`PING`).
    public func ping() async throws(RedisError) {
        let reply = try await self.command(["PING"])
        guard reply == .status("PONG") else {
            throw Self.unexpected(reply, from: "PING")
        }
    }

    /// The value of a key (`GET`), or `nil` if the key does not exist.
    public func get(_ key: RedisArgument) async throws(RedisError) -> [UInt8]? {
        switch try await self.command(["GET", key]) {
        case .string(let bytes): bytes
        case .null: nil
        case let reply: throw Self.unexpected(reply, from: "GET")
        }
    }

    /// The value of a key (`GET`), or `nil` if the key does not exist.
    public func get(_ key: String) async throws(RedisError) -> [UInt8]? {
        try await self.get(RedisArgument(key))
    }

    /// The longest expiration `set` takes: about 285 years. Redis adds an expiration to the current Unix time in
    /// milliseconds, and refuses one that would overflow; this bound keeps far from that and from `Int`'s range.
    public static let longestExpiration = Duration.milliseconds(9_000_000_000_000)

    /// Sets a key (`SET`), optionally with an expiration (`PX`, in whole milliseconds, at least 1 and at most
    /// ``longestExpiration``).
    public func set(_ key: RedisArgument, _ value: RedisArgument, expiration: Duration? = nil) async throws(RedisError)
    {
        var arguments: [RedisArgument] = ["SET", key, value]
        if let expiration {
            guard expiration >= .milliseconds(1) else {
                throw RedisError(.invalidArgument, message: "an expiration must be at least 1 millisecond")
            }
            guard expiration <= Self.longestExpiration else {
                throw RedisError(.invalidArgument, message: "an expiration must be at most 9e12 milliseconds")
            }
            // Whole milliseconds, rounded down: at least 1 by the check above.
            let (seconds, attoseconds) = expiration.components
            arguments += ["PX", RedisArgument(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))]
        }
        let reply = try await self.command(arguments)
        guard reply == .status("OK") else {
            throw Self.unexpected(reply, from: "SET")
        }
    }

    /// Sets a key to a string (`SET`), optionally with an expiration.
    public func set(_ key: String, _ value: String, expiration: Duration? = nil) async throws(RedisError) {
        try await self.set(RedisArgument(key), RedisArgument(value), expiration: expiration)
    }

    /// Deletes keys (`DEL`).
    /// - Returns: How many of them existed.
    @discardableResult
    public func delete(_ keys: [RedisArgument]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else {
            return 0
        }
        let reply = try await self.command(["DEL"] + keys)
        guard let count = reply.intValue, case .integer = reply else {
            throw Self.unexpected(reply, from: "DEL")
        }
        return count
    }

    /// Deletes keys (`DEL`).
    /// - Returns: How many of them existed.
    @discardableResult
    public func delete(_ keys: String...) async throws(RedisError) -> Int {
        try await self.delete(keys.map { RedisArgument($0) })
    }

    /// The server's `INFO` fields, such as `redis_version` or `connected_clients`.
    /// - Parameter section: One section (`"server"`, `"clients"`, `"memory"`, ...), or `nil` for the default set.
    public func info(section: String? = nil) async throws(RedisError) -> [String: String] {
        let reply = try await self.command(section.map { ["INFO", RedisArgument($0)] } ?? ["INFO"])
        guard let text = reply.stringValue else {
            throw Self.unexpected(reply, from: "INFO")
        }
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else {
                continue
            }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    static func unexpected(_ reply: RedisReply, from command: String) -> RedisError {
        // Only the kind of reply is named: its content may be a caller's data.
        let kind =
            switch reply {
            case .string: "a bulk string"
            case .status: "a status"
            case .integer: "an integer"
            case .double: "a double"
            case .array: "an array"
            case .null: "null"
            case .error: "an error"
            }
        return RedisError(.protocolError, message: "unexpected reply to \(command): \(kind)")
    }
}
