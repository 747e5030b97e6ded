#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Foundation
import JSONRPC
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@Suite struct UnixSocketServerTests {
    static func config(_ folder: String, maxMessage: Int = 16 << 20, inFlight: Int = 64)
        -> UnixSocketServer.Configuration
    {
        UnixSocketServer.Configuration(
            path: folder + "/run/j.sock",
            maximumMessageBytes: maxMessage,
            maximumInFlightPerConnection: inFlight
        )
    }

    @Test func thousandConcurrentRequestsOverFiftyConnectionsEachGetTheirOwnResponse() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder)) { path in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0..<50 {
                    group.addTask {
                        let lines = (0..<20).map { index in
                            let tag = "c\(connection)-r\(index)"
                            return #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"\#(tag)"},"id":"\#(tag)"}"#
                        }
                        let responses = try await ServerTestSupport.exchange(path, lines: lines, expecting: 20)
                        #expect(responses.count == 20)
                        for response in responses {
                            #expect(response["id"] != nil && response["id"] == response["result"]?["text"])
                        }
                        #expect(Set(responses.compactMap { $0["id"]?.stringValue }).count == 20)
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func responsesGoOutWhenReadyNotInRequestOrder() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder)) { path in
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: [
                    #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":400},"id":"slow"}"#,
                    #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"fast"}"#,
                ],
                expecting: 2
            )
            #expect(responses.map { $0["id"] } == ["fast", "slow"])
        }
    }

    @Test func aFullConnectionStopsReadingInsteadOfFailing() async throws {
        // With one request in flight allowed, the second waits for the first: responses come in request order,
        // and nothing is refused.
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder, inFlight: 1)) { path in
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: [
                    #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":300},"id":"slow"}"#,
                    #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"fast"}"#,
                    #"{"jsonrpc":"2.0","method":"sum","params":[3],"id":"third"}"#,
                ],
                expecting: 3
            )
            #expect(responses.map { $0["id"] } == ["slow", "fast", "third"])
            #expect(responses.allSatisfy { $0["error"] == nil })
        }
    }

    @Test func aRequestAnsweredAtItsDeadlineHoldsItsPlaceUntilItsHandlerReturns() async throws {
        // One request in flight: the deadline's answer goes out at once, but the next request waits until the
        // handler that ran past it has returned, so abandoned handlers cannot pile up beyond the bound. This tests
        // something only if the handler started before its deadline; on a loaded machine it can start late (it is
        // then answered without running), so the deadline grows until it did.
        for deadline in [300, 1_500, 6_000] {
            guard let events = try await Self.answerAtTheDeadline(deadlineMilliseconds: deadline) else { continue }
            #expect(events == ["answer late", "open", "answer next"])
            return
        }
        Issue.record("the handler never started within its deadline")
    }

    /// Sends a request whose handler runs past its deadline and another behind it on a connection with one place;
    /// opens the handler's gate 300 ms after the first answer. Returns the answers and the opening in the order
    /// they came, or `nil` when the handler had not started by the time it was answered.
    private static func answerAtTheDeadline(deadlineMilliseconds: Int) async throws -> [String]? {
        let tag = "stubborn-\(UInt64.random(in: 0...UInt64.max))"
        let folder = ServerTestSupport.temporaryFolder()
        let events = EventLog()
        let started = EventLog()
        try await ServerTestSupport.withSocketServer(Self.config(folder, inFlight: 1)) { path in
            let channel = try await ServerTestSupport.connect(path)
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(
                        string: #"{"jsonrpc":"2.0","method":"test.stubborn","params":{"tag":"\#(tag)","#
                            + #""_meta":{"deadline_ms":\#(deadlineMilliseconds)}},"id":"late"}"# + "\n"))
                try await outbound.write(
                    ByteBuffer(string: #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"next"}"# + "\n"))
                // A safety net: a server that answers only when the handler returns fails the test, not hangs it.
                // Generous: in a full parallel run on two cores the deadline's answer has come more than 10 s late.
                let safety = Task {
                    try await Task.sleep(for: .seconds(60))
                    Gates.open(tag)
                }
                defer { safety.cancel() }
                // Responses are logged as they arrive, while a task of its own opens the gate a while after the
                // first.
                let (firstArrived, firstSignal) = AsyncStream<Void>.makeStream()
                let opener = Task {
                    for await _ in firstArrived { break }
                    if StartedRequests.contains(tag) { started.append(tag) }
                    #expect(!Gates.hasReturned(tag), "answered before the handler returned")
                    // Time for the next request to be answered, were its place free.
                    try await Task.sleep(for: .milliseconds(300))
                    events.append("open")
                    Gates.open(tag)
                }
                var responses: [JSONValue] = []
                for try await frame in inbound {
                    guard case .message(let buffer) = frame.kind else { continue }
                    let response = try JSONParser.parse(Array(buffer.readableBytesView))
                    responses.append(response)
                    events.append("answer \(response["id"]?.stringValue ?? "?")")
                    firstSignal.yield()
                    if responses.count == 2 { break }
                }
                try await opener.value
                #expect(responses.first?["error"]?["data"]?["type"] == "deadline_exceeded")
                #expect(responses.last?["result"] == 3)
            }
        }
        return started.entries.isEmpty ? nil : events.entries
    }

    /// A client writes requests and never reads an answer, nor closes: the server stops reading from it, and on
    /// shutdown it still stops, closing that connection once its answers have waited `drainTimeout` for the client.
    @Test func aClientThatNeverReadsCannotHoldUpShutdown() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        var configuration = Self.config(folder)
        configuration.drainTimeout = .milliseconds(400)
        let client = StalledClient()
        defer { client.close() }
        let stoppedInTime = try await ServerTestSupport.finishes { [configuration] in
            try await ServerTestSupport.withSocketServer(configuration) { path in
                try await client.connectAndWriteUntilTheServerStopsReading(path)
            }
        }
        // Fewer than a connection's 64 places would mean the client gave up while the server was merely slow, and
        // its answers may all have fitted in the socket's buffers: nothing would have been tested.
        #expect(client.requestsWritten >= 64)
        #expect(stoppedInTime, "the server did not stop while a client held its answers")
    }

    @Test func anOversizedLineIsAnsweredAndTheConnectionGoesOn() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder, maxMessage: 1024)) { path in
            let huge =
                #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":""# + String(repeating: "z", count: 100_000)
                + #""},"id":1}"#
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: [huge, #"{"jsonrpc":"2.0","method":"sum","params":[2,2],"id":2}"#],
                expecting: 2
            )
            #expect(responses.count == 2)
            let tooLarge = try #require(responses.first { $0["id"] == .null })
            #expect(tooLarge["error"]?["code"]?.intValue == -32600)
            #expect(tooLarge["error"]?["message"] == "message too large")
            #expect(tooLarge["error"]?["data"]?["type"] == "message_too_large")
            #expect(responses.contains { $0["id"]?.intValue == 2 && $0["result"]?.intValue == 4 })
        }
    }

    @Test func nonJSONLinesAreParseErrorsAndTheConnectionGoesOn() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder)) { path in
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: ["hello there", #"{"jsonrpc":"2.0","method":"sum","params":[5],"id":7}"#],
                expecting: 2
            )
            #expect(responses.first?["error"]?["code"]?.intValue == -32700)
            #expect(responses.last?["result"]?.intValue == 5)
        }
    }

    @Test func socketIsPrivateAndItsFolderCreated() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        try await ServerTestSupport.withSocketServer(Self.config(folder)) { path in
            var status = stat()
            #expect(stat(path, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
            #expect((status.st_mode & S_IFMT) == S_IFSOCK)
            #expect(stat(folder + "/run", &status) == 0)
            #expect(status.st_mode & 0o777 == 0o700)
        }
    }

    @Test func socketModeCanBeChanged() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        var configuration = Self.config(folder)
        configuration.mode = 0o660
        try await ServerTestSupport.withSocketServer(configuration) { path in
            var status = stat()
            #expect(stat(path, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o660)
        }
    }

    @Test func socketFileIsRemovedOnCleanExit() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let configuration = Self.config(folder)
        try await ServerTestSupport.withSocketServer(configuration) { path in
            #expect(access(path, F_OK) == 0)
        }
        #expect(access(configuration.path, F_OK) != 0)
    }

    @Test func staleSocketIsReplaced() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let configuration = Self.config(folder)
        // A socket file that nobody listens on, as a killed server leaves behind.
        mkdir(folder + "/run", 0o700)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = unixAddress(configuration.path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        close(fd)
        #expect(access(configuration.path, F_OK) == 0)
        try await ServerTestSupport.withSocketServer(configuration) { path in
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: [#"{"jsonrpc":"2.0","method":"sum","params":[1],"id":1}"#],
                expecting: 1
            )
            #expect(responses.first?["result"]?.intValue == 1)
        }
    }

    @Test func liveSocketIsRefused() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let configuration = Self.config(folder)
        try await ServerTestSupport.withSocketServer(configuration) { path in
            let second = UnixSocketServer(
                configuration: configuration, router: TestSupport.router(), logger: TestSupport.logger)
            await #expect {
                try await second.run()
            } throws: { error in
                guard let error = error as? UnixSocketPath.SetupError else { return false }
                return error.description.contains("another server is listening")
            }
            // The first server is untouched.
            let responses = try await ServerTestSupport.exchange(
                path,
                lines: [#"{"jsonrpc":"2.0","method":"sum","params":[3],"id":1}"#],
                expecting: 1
            )
            #expect(responses.first?["result"]?.intValue == 3)
        }
    }

    /// Checking a path, clearing a stale socket and binding are one step for servers starting at once: the second
    /// waits for the first's lock, then finds its live socket (not a stale one to remove).
    @Test func aServerPreparingThePathWaitsForAnotherThatIsBindingIt() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let path = try UnixSocketPath(folder + "/run/j.sock")
        let first = try path.prepareForBinding()
        let (prepared, preparedSignal) = AsyncStream<Void>.makeStream()
        let events = EventLog()
        Thread.detachNewThread {
            let second = try? path.prepareForBinding()
            events.append("second prepared")
            second?.release()
            preparedSignal.yield()
            preparedSignal.finish()
        }
        try await Task.sleep(for: .milliseconds(300))
        events.append("first released")
        first.release()
        for await _ in prepared { break }
        #expect(events.entries == ["first released", "second prepared"])
    }

    @Test func overlongPathIsAClearError() throws {
        let path = "/tmp/" + String(repeating: "p", count: 200) + "/j.sock"
        #expect {
            _ = try UnixSocketPath(path)
        } throws: { error in
            "\(error)".contains("at most \(UnixSocketPath.maximumLength)")
        }
    }

    @Test func aFileInTheWayIsNotRemoved() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let path = folder + "/not-a-socket"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        let server = UnixSocketServer(
            configuration: .init(path: path),
            router: TestSupport.router(),
            logger: TestSupport.logger
        )
        await #expect {
            try await server.run()
        } throws: { error in
            "\(error)".contains("not a socket")
        }
        #expect(access(path, F_OK) == 0)
    }

    @Test func gracefulShutdownFinishesRequestsInFlight() async throws {
        let (tag, answers, socketLeft) = try await answersAcrossAGracefulShutdown(after: "")
        #expect(answers.count == 1, "one answer, then the server closes the connection: \(answers)")
        #expect(try JSONParser.parse(Array((answers.first ?? "{}").utf8))["result"]?.stringValue == tag)
        #expect(!socketLeft)
    }

    /// A line still arriving when the server stops is not the input's last message: it is not answered (with a
    /// parse error, as a cut-off line at the client's own end of input would be), while the request in flight is.
    @Test func gracefulShutdownDoesNotAnswerALineStillArriving() async throws {
        let (tag, answers, _) = try await answersAcrossAGracefulShutdown(
            after: #"{"jsonrpc":"2.0","method":"test.echo""#)
        #expect(answers.count == 1, "only the request in flight is answered: \(answers)")
        #expect(try JSONParser.parse(Array((answers.first ?? "{}").utf8))["result"]?.stringValue == tag)
    }

    /// Runs a socket server and sends one request that takes 300 ms, followed by `after` in the same write (so it
    /// is read before the request starts); shuts the server down gracefully once the request runs. Returns the
    /// request's tag, every message the connection got before it closed, and whether the socket file was left.
    private func answersAcrossAGracefulShutdown(after: String) async throws -> (String, [String], Bool) {
        let folder = ServerTestSupport.temporaryFolder()
        let configuration = Self.config(folder)
        let server = UnixSocketServer(
            configuration: configuration, router: TestSupport.router(), logger: TestSupport.logger)
        let group = ServiceGroup(services: [server], logger: TestSupport.logger)
        let tag = "inflight-\(UInt32.random(in: 0...UInt32.max))"
        var answers: [String] = []
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var channel: ServerTestSupport.ClientChannel?
            for _ in 0..<200 where channel == nil {
                channel = try? await ServerTestSupport.connect(configuration.path)
                if channel == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let client = try #require(channel)
            try await client.executeThenClose { inbound, outbound in
                let request = #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":300,"tag":"\#(tag)"},"id":1}"#
                try await outbound.write(ByteBuffer(string: request + "\n" + after))
                // The shutdown starts once the request is running, not after a guessed pause.
                try await StartedRequests.waitFor(tag)
                await group.triggerGracefulShutdown()
                for try await frame in inbound {
                    if case .message(let buffer) = frame.kind { answers.append(String(buffer: buffer)) }
                }
            }
            try await tasks.waitForAll()
        }
        return (tag, answers, access(configuration.path, F_OK) == 0)
    }
}

/// What happened in a test, in order, from several tasks.
final class EventLog: Sendable {
    private let stored = Mutex<[String]>([])
    var entries: [String] { stored.withLock { $0 } }
    func append(_ entry: String) { stored.withLock { $0.append(entry) } }
}

/// A client on a plain socket that writes requests until the server stops taking them, and reads nothing.
final class StalledClient: Sendable {
    private let descriptor = Mutex<CInt>(-1)
    private let written = Mutex(0)

    var requestsWritten: Int { written.withLock { $0 } }

    func connectAndWriteUntilTheServerStopsReading(_ path: String) async throws {
        let socketDescriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw POSIXFailure(call: "socket") }
        descriptor.withLock { $0 = socketDescriptor }
        var address = unixAddress(path)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw POSIXFailure(call: "connect") }
        _ = fcntl(socketDescriptor, F_SETFL, fcntl(socketDescriptor, F_GETFL) | O_NONBLOCK)
        // Large answers fill the socket's buffers after a few requests, so the server's places fill with answers
        // that cannot be written after about a hundred requests (not thousands of small ones, which would keep a
        // loaded machine busy for seconds).
        let text = String(repeating: "x", count: 16_384)
        let line = Array(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"\#(text)"},"id":1}"#.utf8)
        let chunk = line + [UInt8(ascii: "\n")]
        // Written until the socket has taken nothing for a while: the server no longer reads.
        var idleRounds = 0
        var offset = 0
        // Until the socket has taken nothing for a while, and at least a connection's 64 places were filled (a
        // loaded machine can keep the server from reading for longer than the idle rounds); 30 s at most.
        let deadline = ContinuousClock.now + .seconds(30)
        while idleRounds < 10 || requestsWritten < 64, ContinuousClock.now < deadline {
            let sent = chunk[offset...].withUnsafeBytes {
                send(socketDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                idleRounds = 0
                offset += sent
                if offset == chunk.count {
                    offset = 0
                    written.withLock { $0 += 1 }
                }
                // The server takes requests as fast as they come until its 64 places are full: without a pause
                // here this loop would hold one of the cooperative pool's threads (two on this machine) meanwhile,
                // and other tests' tasks would wait for it.
                try await Task.sleep(for: .milliseconds(1))
            } else {
                guard errno == EAGAIN || errno == EWOULDBLOCK else { throw POSIXFailure(call: "send") }
                idleRounds += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func close() {
        descriptor.withLock { descriptor in
            if descriptor >= 0 { _ = Glibc.close(descriptor) }
            descriptor = -1
        }
    }
}

struct POSIXFailure: Error {
    var call: String
    var code = errno
}

/// `path` as a Unix socket address (cut to fit, with its terminating zero).
private func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8.prefix($0.count - 1)) }
    return address
}
