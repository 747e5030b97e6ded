import CHiredis
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Simple commands sent to Redis from SwiftNIO event loops: each loop of the group has its own connection, which
/// its loop writes and reads, so a caller running on a loop never changes thread.
///
/// A command from a task that runs on an event loop (a JSON-RPC request does) goes out on that loop's
/// connection; the reply is read on the same loop, and the task resumes there. The commands that callers on one
/// loop send during one turn of the loop leave in one write, and their replies come back in one read. hiredis
/// still does the protocol: `redisFormatCommandArgv` writes each command, and a `redisReader` reads the replies.
/// Neither touches a socket (they format and parse bytes in memory), so neither blocks the loop; the socket is
/// SwiftNIO's, non-blocking. DESIGN.md's first rule is about hiredis' blocking I/O, which stays on the client's
/// thread pool for every other call.
///
/// Only commands that answer at once belong here: a blocking command (`BLPOP`, `XREADGROUP … BLOCK`) would hold
/// up every command behind it.
final class RedisEventLoopConnections: Sendable {
    private let connections: [RedisEventLoopConnection]
    private let byLoop: [ObjectIdentifier: RedisEventLoopConnection]
    private let nextIndex = Atomic<Int>(0)

    init(
        group: any EventLoopGroup,
        configuration: RedisConfiguration,
        counter: RedisConnectionCounter,
        logger: Logger
    ) {
        var connections: [RedisEventLoopConnection] = []
        var byLoop: [ObjectIdentifier: RedisEventLoopConnection] = [:]
        for loop in group.makeIterator() {
            let connection = RedisEventLoopConnection(
                eventLoop: loop,
                id: -(connections.count + 1),
                configuration: configuration,
                counter: counter,
                logger: logger
            )
            connections.append(connection)
            byLoop[ObjectIdentifier(loop)] = connection
        }
        precondition(!connections.isEmpty, "an event loop group has at least one loop")
        self.connections = connections
        self.byLoop = byLoop
    }

    /// Sends one command on the connection of the loop the caller runs on (any, for a caller off the loops).
    func send(_ arguments: [RedisArgument]) async -> Result<RedisReply, RedisError> {
        let connection: RedisEventLoopConnection
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, let own = byLoop[ObjectIdentifier(current)] {
            connection = own
        } else {
            let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
            connection = connections[index % connections.count]
        }
        return await withUnsafeContinuation { continuation in
            connection.send(arguments, continuation: continuation)
        }
    }

    /// Closes every connection; commands waiting for a reply fail with `.shutDown`, as do later ones.
    func shutdown() async {
        for connection in connections {
            await connection.shutdown()
        }
    }
}

/// One event loop's connection to Redis: opened on first use, reopened on the next command after it fails.
///
/// `@unchecked Sendable` is safe because every mutable property is read and written only on `eventLoop`: the
/// entry points (`send`, `shutdown`) run their work there (directly when already on it, else through
/// `execute`), and the channel handler, the connect callbacks and the timeout timer all run on it too.
final class RedisEventLoopConnection: @unchecked Sendable {
    typealias Continuation = UnsafeContinuation<Result<RedisReply, RedisError>, Never>

    /// Who waits for a reply: a caller, or the set-up of a new connection (`AUTH`, `SELECT`); the reply to the
    /// last set-up command makes the connection ready.
    private enum Waiter {
        case caller(Continuation)
        case handshake(isLast: Bool)
    }

    private struct Sent {
        var waiter: Waiter
        var deadline: NIODeadline
    }

    private enum ConnectionState {
        case closed
        /// Connecting (no channel yet), or setting the channel up (`AUTH`, `SELECT`); commands wait, formatted,
        /// until it is ready.
        case connecting(channel: (any Channel)?, queued: [(command: ByteBuffer, continuation: Continuation)])
        case ready(any Channel)
        case shutDown
    }

    let eventLoop: any EventLoop
    private let id: Int
    private let configuration: RedisConfiguration
    private let counter: RedisConnectionCounter
    private let logger: Logger
    private var state = ConnectionState.closed
    /// Commands written and not yet answered, oldest first.
    private var sent = CircularBuffer<Sent>()
    private var flushScheduled = false
    private var timeoutTimerArmed = false

    init(
        eventLoop: any EventLoop,
        id: Int,
        configuration: RedisConfiguration,
        counter: RedisConnectionCounter,
        logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.id = id
        self.configuration = configuration
        self.counter = counter
        self.logger = logger
    }

    func send(_ arguments: [RedisArgument], continuation: Continuation) {
        if eventLoop.inEventLoop {
            sendOnLoop(arguments, continuation: continuation)
        } else {
            eventLoop.execute { self.sendOnLoop(arguments, continuation: continuation) }
        }
    }

    /// Stops taking commands (later ones fail with `.shutDown`), waits for the replies to those already sent
    /// (each within the command timeout), and closes.
    func shutdown() async {
        let drained = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            let queued: [(command: ByteBuffer, continuation: Continuation)]
            if case .connecting(_, let waiting) = self.state { queued = waiting } else { queued = [] }
            let channel = self.channel
            self.state = .shutDown
            let error = RedisError(.shutDown, message: "the Redis client was shut down")
            for (_, continuation) in queued {
                continuation.resume(returning: .failure(error))
            }
            guard let channel, !self.sent.isEmpty else {
                channel?.close(promise: nil)
                drained.succeed()
                return
            }
            self.drained = (channel, drained)
        }
        try? await drained.futureResult.get()
    }

    /// The channel of the current connection, ready or being set up.
    private var channel: (any Channel)? {
        switch state {
        case .ready(let channel): channel
        case .connecting(let channel, _): channel
        case .closed, .shutDown: nil
        }
    }

    /// At shutdown: the channel to close, and the promise to complete, once the last reply has come.
    private var drained: (channel: any Channel, promise: EventLoopPromise<Void>)?

    // MARK: - On the event loop

    private func sendOnLoop(_ arguments: [RedisArgument], continuation: Continuation) {
        guard let command = Self.format(arguments, allocator: ByteBufferAllocator()) else {
            continuation.resume(
                returning: .failure(RedisError(.invalidArgument, message: "a command needs at least its name")))
            return
        }
        switch state {
        case .ready(let channel):
            write(command, waiter: .caller(continuation), on: channel)
        case .connecting(let channel, var queued):
            state = .closed  // Leaves `queued` the array's only owner, so appending does not copy it.
            queued.append((command, continuation))
            state = .connecting(channel: channel, queued: queued)
        case .closed:
            state = .connecting(channel: nil, queued: [(command, continuation)])
            connect()
        case .shutDown:
            continuation.resume(returning: .failure(RedisError(.shutDown, message: "the Redis client was shut down")))
        }
    }

    /// Writes a command without flushing; one flush per turn of the loop sends everything written in it.
    private func write(_ command: ByteBuffer, waiter: Waiter, on channel: any Channel) {
        sent.append(Sent(waiter: waiter, deadline: .now() + TimeAmount(configuration.commandTimeout)))
        channel.write(command, promise: nil)
        if !flushScheduled {
            flushScheduled = true
            eventLoop.execute {
                self.flushScheduled = false
                channel.flush()
                // The connection may have been replaced since this flush was scheduled (a timeout closed it and a
                // new command opened another at once): what was written on the old channel failed with it, and the
                // new one may hold writes, its handshake first, that counted on this flush.
                if let current = self.channel, current !== channel { current.flush() }
            }
        }
        armTimeoutTimer()
    }

    private func connect() {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(connection: self))
                }
            }
        let connecting: EventLoopFuture<any Channel>
        switch configuration.endpoint {
        case .tcp(let host, let port):
            connecting = bootstrap.channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: host, port: port)
        case .unixSocket(let path):
            connecting = bootstrap.connect(unixDomainSocketPath: path)
        }
        connecting.whenComplete { result in
            switch result {
            case .success(let channel):
                self.connected(channel)
            case .failure(let error):
                self.connectFailed(
                    RedisError(
                        .connectionFailed,
                        message: "could not connect to \(self.configuration.target): \(error)"
                    )
                )
            }
        }
    }

    private func connected(_ channel: any Channel) {
        counter.increment()  // Decremented when the channel closes, whatever happens next.
        guard case .connecting(_, let queued) = state else {
            // Shut down while connecting.
            channel.close(promise: nil)
            return
        }
        logger.debug(
            "opened a Redis connection",
            metadata: ["redis.connection": "\(id)", "redis.target": "\(configuration.target)"]
        )
        var handshake: [[RedisArgument]] = []
        if let password = configuration.password {
            let user = configuration.username.map { [RedisArgument($0)] } ?? []
            handshake.append(["AUTH"] + user + [RedisArgument(password)])
        }
        if configuration.database != 0 {
            handshake.append(["SELECT", RedisArgument(configuration.database)])
        }
        guard !handshake.isEmpty else {
            becomeReady(channel, queued: queued)
            return
        }
        // The commands wait until the set-up has answered; the last step's reply makes the connection ready.
        state = .connecting(channel: channel, queued: queued)
        for (index, step) in handshake.enumerated() {
            let command = Self.format(step, allocator: channel.allocator)!
            write(command, waiter: .handshake(isLast: index == handshake.count - 1), on: channel)
        }
    }

    private func becomeReady(_ channel: any Channel, queued: [(command: ByteBuffer, continuation: Continuation)]) {
        state = .ready(channel)
        for (command, continuation) in queued {
            write(command, waiter: .caller(continuation), on: channel)
        }
    }

    private func connectFailed(_ error: RedisError) {
        guard case .connecting(_, let queued) = state else { return }
        state = .closed
        for (_, continuation) in queued {
            continuation.resume(returning: .failure(error))
        }
    }

    /// A reply arrived: it answers the oldest command sent.
    fileprivate func received(_ reply: Result<RedisReply, RedisError>, channel: any Channel) {
        guard let oldest = sent.popFirst() else {
            fail(RedisError(.protocolError, message: "a reply came that no command asked for"), channel: channel)
            return
        }
        defer { closeIfDrained() }
        switch oldest.waiter {
        case .caller(let continuation):
            continuation.resume(returning: reply)
        case .handshake(let isLast):
            if case .failure(let error) = reply {
                fail(
                    RedisError(
                        .connectionFailed,
                        message: "could not set up a connection to \(configuration.target) (\(error.message))",
                        serverMessage: error.serverMessage
                    ),
                    channel: channel
                )
            } else if isLast, case .connecting(_, let queued) = state {
                becomeReady(channel, queued: queued)
            }
        }
    }

    /// The connection cannot be used any more: everything waiting on it fails with `error`, and it closes. The
    /// next command opens a new one.
    fileprivate func fail(_ error: RedisError, channel: any Channel) {
        defer { channel.close(promise: nil) }
        switch state {
        case .ready(let current) where current === channel:
            state = .closed
        case .connecting(let current?, let queued) where current === channel:
            state = .closed
            // Never sent (they wait for the set-up): whatever ended the connection, they surely did not run, which
            // a caller deciding whether to try a write elsewhere needs to know.
            let notSent =
                error.code == .connectionFailed
                ? error
                : RedisError(
                    .connectionFailed,
                    message: "the connection to \(configuration.target) ended during its set-up (\(error.message))",
                    serverMessage: error.serverMessage)
            for (_, continuation) in queued {
                continuation.resume(returning: .failure(notSent))
            }
        case .shutDown where drained?.channel === channel:
            break  // Shutting down: the commands still waiting for a reply fail.
        default:
            return  // An earlier channel, already replaced: what waits belongs to the current one.
        }
        failSent(error)
    }

    /// The channel closed.
    fileprivate func closed(_ channel: any Channel) {
        counter.decrement()
        fail(RedisError(.connectionClosed, message: "the server closed the connection"), channel: channel)
    }

    private func failSent(_ error: RedisError) {
        while let oldest = sent.popFirst() {
            if case .caller(let continuation) = oldest.waiter {
                continuation.resume(returning: .failure(error))
            }
        }
        closeIfDrained()
    }

    private func closeIfDrained() {
        guard sent.isEmpty, let (channel, promise) = drained else { return }
        drained = nil
        channel.close(promise: nil)
        promise.succeed()
    }

    /// One timer at a time checks the oldest command's deadline; a connection that has not answered in time
    /// is closed, since a late reply would otherwise be read as the answer to the next command.
    private func armTimeoutTimer() {
        guard !timeoutTimerArmed, let oldest = sent.first else { return }
        timeoutTimerArmed = true
        eventLoop.scheduleTask(deadline: oldest.deadline) {
            self.timeoutTimerArmed = false
            guard let oldest = self.sent.first else { return }
            if oldest.deadline <= .now() {
                let error = RedisError(
                    .timeout, message: "no reply within the command timeout; the connection was closed")
                if let channel = self.channel {
                    self.fail(error, channel: channel)
                } else {
                    self.failSent(error)
                }
            } else {
                self.armTimeoutTimer()
            }
        }
    }

    /// The command in Redis' protocol, written by hiredis; `nil` for an empty command.
    private static func format(_ arguments: [RedisArgument], allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard !arguments.isEmpty else { return nil }
        return RedisArgument.withArgv(arguments) { count, argv, lengths in
            var formatted: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&formatted, count, argv, lengths)
            guard length > 0, let formatted else { return nil }
            defer { redisFreeCommand(formatted) }
            var buffer = allocator.buffer(capacity: Int(length))
            buffer.writeBytes(UnsafeRawBufferPointer(start: formatted, count: Int(length)))
            return buffer
        }
    }
}

/// Reads replies with a hiredis reader and hands each to the connection, on its event loop.
private final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RedisEventLoopConnection
    private let reader: UnsafeMutablePointer<redisReader>

    init(connection: RedisEventLoopConnection) {
        self.connection = connection
        self.reader = redisReaderCreate()
    }

    deinit {
        redisReaderFree(reader)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard fed == REDIS_OK else {
            connection.fail(Self.protocolError(reader), channel: context.channel)
            return
        }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                connection.fail(Self.protocolError(reader), channel: context.channel)
                return
            }
            guard let raw else { return }  // The rest of the reply has not arrived yet.
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            let result = RedisConnection.result(of: reply)
            freeReplyObject(raw)
            connection.received(result, channel: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.fail(
            RedisError(.connectionClosed, message: "I/O error on the connection: \(error)"),
            channel: context.channel
        )
    }

    private static func protocolError(_ reader: UnsafeMutablePointer<redisReader>) -> RedisError {
        let reason = withUnsafeBytes(of: reader.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return RedisError(.protocolError, message: "unreadable reply: \(reason)")
    }
}
