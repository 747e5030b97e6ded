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

/// Serves JSON-RPC over standard input and output, for a parent process that spawned the server.
///
/// The framing (newline-delimited or `Content-Length`) is detected from the first bytes and used for the answers
/// too. Standard output carries protocol messages only. When standard input ends, the requests in flight finish,
/// their answers are written, and `run()` returns.
public struct StdioServer: Service {
    public struct Configuration: Sendable {
        public var maximumMessageBytes: Int
        public var maximumInFlight: Int
        public var inputDescriptor: CInt
        public var outputDescriptor: CInt
        /// After standard input ends (or shutdown begins), how long the reader of standard output may take none of
        /// the answers still to be written before the server stops writing to it.
        public var drainTimeout: TimeAmount

        public init(
            maximumMessageBytes: Int = 16 * 1024 * 1024,
            maximumInFlight: Int = 64,
            inputDescriptor: CInt = STDIN_FILENO,
            outputDescriptor: CInt = STDOUT_FILENO,
            drainTimeout: TimeAmount = .seconds(10)
        ) {
            self.maximumMessageBytes = maximumMessageBytes
            self.maximumInFlight = maximumInFlight
            self.inputDescriptor = inputDescriptor
            self.outputDescriptor = outputDescriptor
            self.drainTimeout = drainTimeout
        }
    }

    /// Why standard input or output cannot be served.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "cannot serve on stdio: \(reason)" }
    }

    private let configuration: Configuration
    private let router: JSONRPCRouter
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    public init(
        configuration: Configuration = Configuration(),
        router: JSONRPCRouter,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.router = router
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    public func run() async throws {
        // The channel owns (and closes) its descriptors; it gets copies so the process's own 0 and 1 stay valid.
        let input = dup(configuration.inputDescriptor)
        let output = dup(configuration.outputDescriptor)
        guard input >= 0, output >= 0 else {
            throw SetupError(reason: "cannot duplicate the descriptors: \(String(cString: strerror(errno)))")
        }
        let maximumMessageBytes = configuration.maximumMessageBytes
        let connection: JSONRPCConnectionChannel
        do {
            connection = try await NIOPipeBootstrap(group: eventLoopGroup)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .takingOwnershipOfDescriptors(input: input, output: output) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try JSONRPCConnectionChannel.configure(
                            channel,
                            decoder: DetectingFrameDecoder(maximumMessageBytes: maximumMessageBytes),
                            router: router
                        )
                    }
                }
        } catch {
            // The descriptors are not closed here: the bootstrap may already have done so, and a second close
            // could hit a descriptor reused in the meantime.
            throw SetupError(reason: "standard input and output must be pipes, sockets or terminals (\(error))")
        }
        logger.info("serving on stdio")
        await JSONRPCConnection(
            connection: connection,
            router: router,
            maximumInFlight: configuration.maximumInFlight,
            logger: logger,
            drainTimeout: configuration.drainTimeout
        ).run()
        logger.info("standard input closed; stdio server stopped")
    }
}
