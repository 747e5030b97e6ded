import Foundation
import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A load generator for line-based request/response servers on a Unix socket.
///
/// Each connection keeps at most one request in flight: it sends a line, waits for one line back, and sends the
/// next, at once (closed loop, the default) or when it is due (`--rate`, open loop: see ``EpollClient``). The same
/// client measures Jules (JSON-RPC lines) and a reference such as `redis-server` answering `PING`
/// (`--raw PING`), so the two figures can be compared as a ratio taken in the same run.
struct SocketBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socket",
        abstract: "Closed-loop load generator for a Unix-socket line protocol (Jules JSON-RPC, or raw lines)."
    )

    @Option(help: "The Unix socket to load.")
    var socket: String

    @Option(help: "Concurrent connections, each with one request in flight.")
    var connections = 50

    @Option(help: "Seconds to measure, after the warm-up.")
    var duration = 10.0

    @Option(help: "Seconds of load before measuring starts.")
    var warmup = 2.0

    @Option(help: "The JSON-RPC method to call.")
    var method = "health.live"

    @Option(help: "The JSON-RPC params, as JSON text.")
    var params: String?

    @Option(
        help: """
            A file of params, one JSON value per line, used instead of --params: connection i sends lines i, \
            i + connections, … in turn (e.g. to spread state.update over many households).
            """
    )
    var paramsFile: String?

    @Option(help: "Send this line as it is instead of a JSON-RPC request (e.g. PING for redis-server).")
    var raw: String?

    @Option(help: "Threads of the client.")
    var threads = 1

    @Option(
        help: """
            Open loop: send this many requests per second in all, evenly spaced over the connections (each still \
            with at most one in flight), and count each latency from when its request was due (epoll client only). \
            Without it, a closed loop: each connection sends its next request as soon as it has its answer.
            """
    )
    var rate: Double?

    enum ClientKind: String, ExpressibleByArgument, CaseIterable {
        /// Plain epoll: a read and a write per request (``EpollClient``).
        case epoll
        /// A SwiftNIO channel per connection (the client of the runs before 2026-11-30 10:00).
        case nio
    }

    @Option(help: "How the client does its I/O: epoll (a read and a write per request) or nio (a SwiftNIO channel).")
    var client = ClientKind.epoll

    @Option(help: "A name for this run in the output.")
    var label: String?

    @Option(
        help: """
            Also write every response of the measured window to this file, a line each: when it arrived and its \
            latency, in microseconds from the start of the window (to see when a tail happened).
            """
    )
    var samplesFile: String?

    @Option(
        name: .customLong("cpu-of"),
        help: """
            Also report the CPU time per request that the processes of this name (as the kernel keeps it: at most \
            15 characters) used while measuring, other than this client (Linux; repeatable, e.g. --cpu-of jules --cpu-of redis-server). \
            The client's own is always reported.
            """
    )
    var cpuOf: [String] = []

    func validate() throws {
        guard connections > 0, connections <= 10_000 else { throw ValidationError("--connections must be 1...10000") }
        guard duration > 0, warmup >= 0 else { throw ValidationError("--duration must be > 0 and --warmup >= 0") }
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        if let rate {
            guard rate.isFinite, rate >= 1, rate <= 10_000_000 else {
                throw ValidationError("--rate must be 1...10000000 requests per second")
            }
            guard client == .epoll else { throw ValidationError("--rate needs --client epoll") }
        }
    }

    func run() async throws {
        func requestLine(params: String?) -> String {
            if let raw { return raw }
            let paramsText = params.map { #","params":\#($0)"# } ?? ""
            return #"{"jsonrpc":"2.0","id":1,"method":"\#(method)"\#(paramsText)}"#
        }
        let line = requestLine(params: params)
        let ending = raw != nil ? "\r\n" : "\n"
        var requests = [ByteBuffer(string: line + ending)]
        if let paramsFile {
            let text = try String(contentsOfFile: paramsFile, encoding: .utf8)
            requests = text.split(separator: "\n").filter { !$0.isEmpty }.map {
                ByteBuffer(string: requestLine(params: String($0)) + ending)
            }
            guard !requests.isEmpty else { throw ValidationError("--params-file \(paramsFile) has no lines") }
        }

        // Found out now, not after the run: the file is made (emptied) before any load.
        if let samplesFile, !FileManager.default.createFile(atPath: samplesFile, contents: nil) {
            throw ValidationError("--samples-file \(samplesFile) cannot be written")
        }
        let run = BenchRun()
        let stopClient: () async throws -> Void
        switch client {
        case .epoll:
            #if canImport(Glibc)
                let epollClient = EpollClient(
                    socketPath: socket, requests: requests.map { Array($0.readableBytesView) }, jsonRPC: raw == nil,
                    run: run, rate: rate)
                try epollClient.start(connections: connections, threads: threads)
                stopClient = { await epollClient.stop() }
            #else
                throw ValidationError("--client epoll needs Linux")
            #endif
        case .nio:
            let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            var channels: [any Channel] = []
            for index in 0..<connections {
                let own = stride(from: index % requests.count, to: requests.count, by: connections).map {
                    requests[$0]
                }
                let channel = try await ClientBootstrap(group: group)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                ClosedLoopHandler(requests: own, run: run, jsonRPC: raw == nil)
                            )
                        }
                    }
                    .connect(unixDomainSocketPath: socket)
                    .get()
                channels.append(channel)
            }
            stopClient = { [channels] in
                for channel in channels {
                    try? await channel.close()
                }
                try await group.shutdownGracefully()
            }
        }
        try await Task.sleep(for: .seconds(warmup))
        // The client's own time first, then each process name asked for (once each).
        var watched = ["client"]
        for name in cpuOf where !watched.contains(name) { watched.append(name) }
        func cpuSeconds() -> [Double?] {
            [ProcessCPU.ownSeconds()] + watched.dropFirst().map { ProcessCPU.seconds(ofProcessesNamed: $0) }
        }
        let cpuBefore = cpuSeconds()
        let start = NIODeadline.now().uptimeNanoseconds
        try await Task.sleep(for: .seconds(duration))
        let end = NIODeadline.now().uptimeNanoseconds
        let cpuAfter = cpuSeconds()
        run.stop()
        try await stopClient()

        var report = run.report(from: start, to: end)
        report.rate = rate
        if let samplesFile {
            let lines = run.samples(from: start, to: end).map { "\(($0.0 - start) / 1000) \($0.1 / 1000)\n" }
            try lines.joined().write(toFile: samplesFile, atomically: false, encoding: .utf8)
        }
        for (index, name) in watched.enumerated() {
            guard let before = cpuBefore[index], let after = cpuAfter[index], report.requests > 0 else { continue }
            report.cpu.append((name, (after - before) * 1e6 / Double(report.requests)))
        }
        let name = label ?? (raw != nil ? "raw \(line)" : method)
        print(report.text(name: name, connections: connections))
        print(report.json(name: name, connections: connections))
        if report.lostConnections > 0 {
            throw LostConnections(count: report.lostConnections, of: connections)
        }
    }
}

/// Some connections ended before the run did: its figures are of a smaller load than asked for.
struct LostConnections: Error, CustomStringConvertible {
    var count: Int
    var of: Int

    var description: String { "\(count) of \(of) connections ended before the run did" }
}

/// What all connections of a run have measured, shared across event loop threads under a lock (taken once per
/// response, uncontended with one client thread).
final class BenchRun: Sendable {
    private struct State {
        var stopped = false
        /// (completion time, latency) of every response, in nanoseconds.
        var samples: [(UInt64, UInt64)] = []
        var errors = 0
        /// Connections closed by the server, or failed, before the run stopped.
        var lostConnections = 0
    }

    private let state = NIOLockedValueBox(State())

    init() {
        state.withLockedValue { $0.samples.reserveCapacity(4_000_000) }
    }

    /// Records a response; returns whether the connection should send another request.
    func record(completedAt: UInt64, latency: UInt64, isError: Bool) -> Bool {
        state.withLockedValue { state in
            state.samples.append((completedAt, latency))
            if isError { state.errors += 1 }
            return !state.stopped
        }
    }

    func stop() {
        state.withLockedValue { $0.stopped = true }
    }

    /// Counts a connection that ended before the run stopped (after it stopped, ending is expected).
    func connectionLost() {
        state.withLockedValue { state in
            if !state.stopped { state.lostConnections += 1 }
        }
    }

    /// The (completion time, latency) of every response that arrived in the window, in the order they arrived.
    func samples(from start: UInt64, to end: UInt64) -> [(UInt64, UInt64)] {
        state.withLockedValue { state in state.samples.filter { $0.0 >= start && $0.0 < end } }
    }

    func report(from start: UInt64, to end: UInt64) -> BenchReport {
        state.withLockedValue { state in
            let window = state.samples.filter { $0.0 >= start && $0.0 < end }
            let latencies = window.map(\.1).sorted()
            return BenchReport(
                requests: latencies.count,
                seconds: Double(end - start) / 1e9,
                latencies: latencies,
                errors: state.errors,
                lostConnections: state.lostConnections
            )
        }
    }
}

struct BenchReport {
    var requests: Int
    var seconds: Double
    var latencies: [UInt64]
    var errors: Int
    var lostConnections: Int
    /// The open loop's rate (requests per second asked for), or `nil` for a closed loop.
    var rate: Double?
    /// CPU microseconds per request, by process name, over the measured window.
    var cpu: [(process: String, microsecondsPerRequest: Double)] = []

    var requestsPerSecond: Double { Double(requests) / seconds }

    func percentileMicroseconds(_ fraction: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let index = min(latencies.count - 1, Int((Double(latencies.count) * fraction).rounded(.up)) - 1)
        return Double(latencies[max(0, index)]) / 1000
    }

    func text(name: String, connections: Int) -> String {
        func format(_ value: Double) -> String { String(Int(value.rounded())) }
        let load = rate.map { "open loop at \(format($0)) requests/s" } ?? "closed loop"
        var text = """
            \(name): \(connections) connections, \(load), \(requests) requests in \(String(format: seconds)) s
              requests/s: \(format(requestsPerSecond))
              latency p50 \(format(percentileMicroseconds(0.5))) µs, p99 \(format(percentileMicroseconds(0.99))) µs, \
            p999 \(format(percentileMicroseconds(0.999))) µs
              error responses: \(errors)
            """
        if lostConnections > 0 {
            text += "\n  connections lost before the end: \(lostConnections) (the figures are of a smaller load)"
        }
        if !cpu.isEmpty {
            let usage = cpu.map { "\($0.process) \(format($0.microsecondsPerRequest)) µs" }
            text += "\n  CPU per request: " + usage.joined(separator: ", ")
        }
        return text
    }

    func json(name: String, connections: Int) -> String {
        let usage = cpu.map { #""\#($0.process.escapedForJSON)":\#($0.microsecondsPerRequest)"# }
        return """
            {"label":"\(name.escapedForJSON)","connections":\(connections),"rate":\(rate.map { String($0) } ?? "null"),\
            "requests":\(requests),"seconds":\(seconds),\
            "rps":\(Int(requestsPerSecond.rounded())),"p50_us":\(percentileMicroseconds(0.5)),\
            "p99_us":\(percentileMicroseconds(0.99)),"p999_us":\(percentileMicroseconds(0.999)),"errors":\(errors),\
            "lost_connections":\(lostConnections),"cpu_us_per_request":{\(usage.joined(separator: ","))}}
            """
    }
}

extension String {
    /// The text with backslashes and quotes escaped, for a JSON string (labels and process names).
    fileprivate var escapedForJSON: String {
        replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"")
    }

    fileprivate init(format seconds: Double) {
        self = String(Double(Int(seconds * 100)) / 100)
    }

    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// One connection: sends a request, waits for a full line back, records it, sends the next (its own in turn).
final class ClosedLoopHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let requests: [ByteBuffer]
    private var next = 0
    private let run: BenchRun
    /// JSON-RPC lines (answers checked for errors), or raw RESP (a Redis server).
    private let jsonRPC: Bool
    private var sentAt: UInt64 = 0
    private var pending = ByteBuffer()

    init(requests: [ByteBuffer], run: BenchRun, jsonRPC: Bool) {
        self.requests = requests
        self.run = run
        self.jsonRPC = jsonRPC
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        while let length = Response.length(in: pending, jsonRPC: jsonRPC) {
            let isError = Response.isError(pending, jsonRPC: jsonRPC)
            pending.moveReaderIndex(forwardBy: length)
            let now = NIODeadline.now().uptimeNanoseconds
            if run.record(completedAt: now, latency: now - sentAt, isError: isError) {
                send(context: context)
            }
        }
        pending.discardReadBytes()
    }

    private func send(context: ChannelHandlerContext) {
        sentAt = NIODeadline.now().uptimeNanoseconds
        context.writeAndFlush(wrapOutboundOut(requests[next]), promise: nil)
        next = next + 1 == requests.count ? 0 : next + 1
    }

    func channelInactive(context: ChannelHandlerContext) {
        run.connectionLost()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Where the responses that both clients read end, and which are errors.
enum Response {
    private static let errorPrefix = Array(#"{"jsonrpc":"2.0","error""#.utf8)

    /// The length of the first complete response in `pending`: a line for JSON-RPC; a whole RESP reply for a raw
    /// (Redis) line, whose bulk strings span two lines.
    static func length(in pending: ByteBuffer, jsonRPC: Bool) -> Int? {
        let bytes = pending.readableBytesView
        guard jsonRPC else { return RESP.length(of: bytes, from: bytes.startIndex).map { $0 - bytes.startIndex } }
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return newline - bytes.startIndex + 1
    }

    /// Whether the first response in `pending` is a JSON-RPC error (raw replies are not checked).
    static func isError(_ pending: ByteBuffer, jsonRPC: Bool) -> Bool {
        jsonRPC && pending.readableBytesView.starts(with: errorPrefix)
    }
}

/// Just enough of RESP to find where a reply ends.
enum RESP {
    /// The index after the reply starting at `start`, or `nil` if it is not complete yet.
    static func length(of bytes: ByteBufferView, from start: Int) -> Int? {
        guard start < bytes.endIndex,
            let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
        else { return nil }
        let header = bytes[(start + 1)..<max(start + 1, newline - 1)]
        let count = Int(String(decoding: header, as: UTF8.self)) ?? 0
        switch bytes[start] {
        case UInt8(ascii: "$"):
            guard count >= 0 else { return newline + 1 }
            let end = newline + 1 + count + 2
            return end <= bytes.endIndex ? end : nil
        case UInt8(ascii: "*"):
            var next = newline + 1
            for _ in 0..<max(0, count) {
                guard let after = length(of: bytes, from: next) else { return nil }
                next = after
            }
            return next
        default:
            return newline + 1
        }
    }
}
