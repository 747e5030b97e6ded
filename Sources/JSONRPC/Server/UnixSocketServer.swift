#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Serves JSON-RPC over a Unix socket, one newline-delimited message per line.
///
/// On graceful shutdown it stops accepting, lets every connection finish the requests it has in flight, and
/// removes the socket file.
public struct UnixSocketServer: Service {
    public struct Configuration: Sendable {
        public var path: String
        /// The socket file's permission bits; 0600 lets only the server's own user connect.
        public var mode: UInt32
        public var maximumMessageBytes: Int
        public var maximumInFlightPerConnection: Int
        /// After a connection's input ends (its peer's end, or shutdown), how long its peer may take none of the
        /// answers still to be written before the connection is closed on it.
        public var drainTimeout: TimeAmount

        public init(
            path: String,
            mode: UInt32 = 0o600,
            maximumMessageBytes: Int = 16 * 1024 * 1024,
            maximumInFlightPerConnection: Int = 64,
            drainTimeout: TimeAmount = .seconds(10)
        ) {
            self.path = path
            self.mode = mode
            self.maximumMessageBytes = maximumMessageBytes
            self.maximumInFlightPerConnection = maximumInFlightPerConnection
            self.drainTimeout = drainTimeout
        }
    }

    private let configuration: Configuration
    private let router: JSONRPCRouter
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable () -> Void

    /// - Parameter onListening: Called once the socket accepts connections (used to print how to call it).
    public init(
        configuration: Configuration,
        router: JSONRPCRouter,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onListening: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.router = router
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let socketPath = try UnixSocketPath(configuration.path)
        // Held until the socket is bound, so that no other server starting meanwhile takes it for stale.
        let bindingLock = try socketPath.prepareForBinding()
        let maximumMessageBytes = configuration.maximumMessageBytes
        // The socket file is created by bind with the process's umask; a umask of 0177 keeps it private from the
        // first instant, before the mode below is applied.
        let previousMask = umask(0o177)
        let server: NIOAsyncChannel<JSONRPCConnectionChannel, Never>
        do {
            server = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(unixDomainSocketPath: socketPath.path, cleanupExistingSocketFile: false) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try JSONRPCConnectionChannel.configure(
                            channel,
                            decoder: NewlineDelimitedFrameDecoder(maximumMessageBytes: maximumMessageBytes),
                            router: router
                        )
                    }
                }
            umask(previousMask)
            bindingLock.release()
        } catch {
            umask(previousMask)
            bindingLock.release()
            throw UnixSocketPath.SetupError(path: socketPath.path, reason: "bind failed: \(error)")
        }
        let identity = socketPath.identity()
        defer { socketPath.remove(ifStill: identity) }
        try socketPath.setMode(configuration.mode)
        logger.info("listening", metadata: ["socket": .string(socketPath.path)])
        onListening()

        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections.cancelOnGracefulShutdown() {
                    group.addTask {
                        await JSONRPCConnection(
                            connection: connection,
                            router: router,
                            maximumInFlight: configuration.maximumInFlightPerConnection,
                            logger: logger,
                            drainTimeout: configuration.drainTimeout
                        ).run()
                    }
                }
            }
            logger.info("stopped accepting connections", metadata: ["socket": .string(socketPath.path)])
        }
    }
}
