import CHiredis

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension RedisConnection {
    /// Sends one command and reads its reply.
    ///
    /// - Returns: The reply, or `.failure` with code `.server` when the server answered with an error reply;
    ///   the connection stays usable then.
    /// - Throws: A transport failure (timeout, closed connection, protocol error). The connection has been
    ///   closed: its next reply could belong to this command, so it must not be reused as it is.
    func execute(_ arguments: [RedisArgument]) throws(RedisError) -> Result<RedisReply, RedisError> {
        try self.append(arguments)
        return try self.readReply()
    }

    /// Sends all commands in one write, then reads one reply for each: one round trip.
    func executePipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [Result<RedisReply, RedisError>] {
        // Checked before anything is appended: an invalid command found halfway would leave the earlier ones in
        // hiredis' output buffer, to be sent, and answered, along with the next caller's command.
        guard commands.allSatisfy({ !$0.isEmpty }) else {
            throw Self.emptyCommandError
        }
        for command in commands {
            try self.append(command)
        }
        var replies: [Result<RedisReply, RedisError>] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            replies.append(try self.readReply())
        }
        return replies
    }

    /// Adds a command to hiredis' output buffer; nothing is written before `readReply`.
    private func append(_ arguments: [RedisArgument]) throws(RedisError) {
        guard !arguments.isEmpty else {
            throw Self.emptyCommandError
        }
        let context = try self.requireContext()
        let status = RedisArgument.withArgv(arguments) { count, argv, lengths in
            redisAppendCommandArgv(context, count, argv, lengths)
        }
        guard status == REDIS_OK else {
            // Only an allocation failure makes appending fail; the context's state is then unknown.
            self.close()
            throw RedisError(.protocolError, message: "hiredis could not format a command")
        }
    }

    /// Writes pending output if any, then reads one reply.
    private func readReply() throws(RedisError) -> Result<RedisReply, RedisError> {
        let context = try self.requireContext()
        var raw: UnsafeMutableRawPointer?
        var errorNumber: Int32 = 0
        guard jules_redis_get_reply(context, &raw, &errorNumber) == REDIS_OK, let raw else {
            let error = Self.transportError(context: context, errorNumber: errorNumber)
            self.close()
            throw error
        }
        defer { freeReplyObject(raw) }
        return Self.result(of: raw.assumingMemoryBound(to: redisReply.self))
    }

    /// A hiredis reply as the caller gets it: an error reply at the top level is a `.server` failure.
    static func result(of reply: UnsafeMutablePointer<redisReply>) -> Result<RedisReply, RedisError> {
        if reply.pointee.type == REDIS_REPLY_ERROR {
            let message = String(decoding: Self.bytes(of: reply), as: UTF8.self)
            return .failure(RedisError(.server, message: "the server replied with an error", serverMessage: message))
        }
        return .success(Self.convert(reply))
    }

    private static let emptyCommandError = RedisError(
        .invalidArgument,
        message: "a command needs at least one argument"
    )

    private static func transportError(context: UnsafeMutablePointer<redisContext>, errorNumber: Int32) -> RedisError {
        let reason = String(cString: jules_redis_error_string(context))
        switch context.pointee.err {
        case REDIS_ERR_IO where errorNumber == EAGAIN || errorNumber == EWOULDBLOCK:
            return RedisError(.timeout, message: "no reply within the command timeout; the connection was closed")
        case REDIS_ERR_EOF:
            return RedisError(.connectionClosed, message: "the server closed the connection")
        case REDIS_ERR_IO:
            return RedisError(.connectionClosed, message: "I/O error on the connection: \(reason)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(.protocolError, message: "unreadable reply: \(reason)")
        default:
            return RedisError(.connectionClosed, message: "the connection failed: \(reason)")
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        switch reply.pointee.type {
        case REDIS_REPLY_STRING:
            return .string(Self.bytes(of: reply))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: Self.bytes(of: reply), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.pointee.integer))
        case REDIS_REPLY_ARRAY:
            let count = reply.pointee.elements
            guard count > 0, let elements = reply.pointee.element else {
                return .array([])
            }
            return .array((0..<count).map { index in elements[index].map(Self.convert) ?? .null })
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: Self.bytes(of: reply), as: UTF8.self))
        default:
            // REDIS_REPLY_NIL, and nothing else exists in RESP2.
            return .null
        }
    }

    private static func bytes(of reply: UnsafeMutablePointer<redisReply>) -> [UInt8] {
        guard let string = reply.pointee.str, reply.pointee.len > 0 else {
            return []
        }
        return Array(UnsafeRawBufferPointer(start: string, count: reply.pointee.len))
    }
}
