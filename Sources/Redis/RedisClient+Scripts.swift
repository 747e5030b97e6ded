import NIOConcurrencyHelpers

extension RedisClient {
    /// Runs a Lua script with `EVALSHA`.
    ///
    /// The first call for a script loads it (`SCRIPT LOAD`) and caches its SHA1 in this client. If the server
    /// no longer knows it (`NOSCRIPT`, after a restart or `SCRIPT FLUSH`), the script is loaded again and run
    /// once more. All of this happens on one connection, in one trip to the thread pool.
    ///
    /// - Parameters:
    ///   - script: The script.
    ///   - keys: The keys it touches (`KEYS` in Lua).
    ///   - arguments: Its other arguments (`ARGV` in Lua).
    /// - Throws: ``RedisError``; a script error is `.server` with the server's message.
    public func evaluate(
        _ script: RedisScript,
        keys: [RedisArgument],
        arguments: [RedisArgument]
    ) async throws(RedisError) -> RedisReply {
        let hashes = self.scriptHashes
        return try await self.withConnection { connection throws(RedisError) in
            func load() throws(RedisError) -> String {
                let reply = try connection.execute(["SCRIPT", "LOAD", RedisArgument(script.source)]).get()
                guard let hash = reply.stringValue else {
                    throw Self.unexpected(reply, from: "SCRIPT LOAD")
                }
                hashes.withLockedValue { $0[script.source] = hash }
                return hash
            }
            func run(_ hash: String) throws(RedisError) -> Result<RedisReply, RedisError> {
                try connection.execute(["EVALSHA", RedisArgument(hash), RedisArgument(keys.count)] + keys + arguments)
            }

            let known = hashes.withLockedValue { $0[script.source] }
            let result: Result<RedisReply, RedisError>
            if let known {
                result = try run(known)
            } else {
                result = try run(load())
            }
            // The server forgot the script (restart, SCRIPT FLUSH): load it again and retry once.
            if case .failure(let error) = result, error.serverErrorCode == "NOSCRIPT", known != nil {
                return try run(load()).get()
            }
            return try result.get()
        }
    }

    /// Runs a Lua script with `EVALSHA`, pipelined with the other commands in flight (see
    /// ``batchedCommand(_:)``).
    ///
    /// The first call for a script, and a call after the server forgot it (`NOSCRIPT`), go through
    /// ``evaluate(_:keys:arguments:)``, which loads it. The script must not block.
    public func batchedEvaluate(
        _ script: RedisScript,
        keys: [RedisArgument],
        arguments: [RedisArgument]
    ) async throws(RedisError) -> RedisReply {
        if let hash = self.scriptHashes.withLockedValue({ $0[script.source] }) {
            do {
                return try await self.batchedCommand(
                    ["EVALSHA", RedisArgument(hash), RedisArgument(keys.count)] + keys + arguments)
            } catch  where error.serverErrorCode == "NOSCRIPT" {
                // Restarted or flushed: load it again below.
            }
        }
        return try await self.evaluate(script, keys: keys, arguments: arguments)
    }
}
