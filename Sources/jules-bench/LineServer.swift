import ArgumentParser
import NIOCore
import NIOPosix

/// A bare SwiftNIO line server, as a reference beside Jules: it answers every line with the same JSON-RPC response,
/// straight from the channel pipeline: no parsing, no tasks, no logging.
///
/// Measured by the same client in the same run, it shows what the event loops and the socket I/O alone cost on the
/// machine, and what latency their scheduling gives, before anything Jules does per request.
struct LineServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "line-server",
        abstract: "A bare SwiftNIO line server answering every line at once (a reference for the socket benchmark)."
    )

    @Option(help: "The Unix socket to listen on (replaced if it exists).")
    var socket: String

    @Option(help: "Event loop threads (Jules serves with one per core).")
    var threads = System.coreCount

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(FixedAnswerHandler())
                }
            }
            .bind(unixDomainSocketPath: socket, cleanupExistingSocketFile: true)
            .get()
        print("listening on \(socket) with \(threads) event loop thread(s)")
        try await channel.closeFuture.get()
    }
}

/// Splits the input into lines (without their newline).
private struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")),
            let line = buffer.readSlice(length: newline - buffer.readerIndex)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(NIOAny(line))
        return .continue
    }
}

/// Answers each line with the same response, flushing once per read.
private final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answer = ByteBuffer(
        string: #"{"jsonrpc":"2.0","id":1,"result":{"status":"ok","version":"0.0.0","uptime_seconds":1.0}}"# + "\n")

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(wrapOutboundOut(answer), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}
