import CoreMetrics
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import JSONRPC

/// `test.now {text}`: answers at once with its text and the correlation id it saw, bound as a task local.
private struct NowMethod: SynchronousJSONRPCMethod {
    static let name = "test.now"

    struct Params: Decodable, Sendable {
        var text: String
        var fail: Bool?
    }

    /// As `test.echo` answers.
    typealias Result = SpecMethods.Echo.Result

    struct Refusal: Error, JSONRPCErrorConvertible {
        var jsonRPCError: JSONRPCError { .invalidParams(field: "params.fail", reason: "asked to fail") }
    }

    /// Counts the requests answered, when given: how many the server has read.
    var answered: Counter?

    func handleNow(_ params: Params, context: RequestContext) throws -> Result {
        answered?.value.add(1, ordering: .relaxed)
        if params.fail == true { throw Refusal() }
        return Result(text: params.text, correlationID: context.correlationID, taskLocal: CorrelationID.current)
    }
}

/// `test.later`: the same answer, after a suspension.
private struct LaterMethod: JSONRPCMethod {
    static let name = "test.later"

    func handle(_ params: NoParams, context: RequestContext) async throws -> String {
        await Task.yield()
        return "later"
    }
}

@Suite struct SynchronousMethodTests {
    let router = TestSupport.router([NowMethod(), LaterMethod()])

    func answer(_ text: String) throws -> JSONValue?? {
        guard case .answered(let bytes) = router.respondNow(to: ByteBuffer(string: text)) else { return .none }
        return .some(try bytes.map { try JSONParser.parse($0) })
    }

    @Test func aSynchronousMethodIsAnsweredAtOnceWithItsCorrelationIDBound() throws {
        let response = try #require(
            try answer(
                #"{"jsonrpc":"2.0","id":1,"method":"test.now","params":{"text":"hi","_meta":{"correlation_id":"c-1"}}}"#
            )
        )
        #expect(response?["result"] == ["text": "hi", "correlationID": "c-1", "taskLocal": "c-1"])
    }

    @Test func theCorrelationIDIsBoundOnAThreadWithoutATask() throws {
        // As the servers call it: from a channel handler on an event loop, where no Swift task runs.
        let router = self.router
        let bytes = try MultiThreadedEventLoopGroup.singleton.next().submit { () -> [UInt8]? in
            guard
                case .answered(let bytes) = router.respondNow(
                    to: ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"test.now","params":{"text":"t"}}"#))
            else { return nil }
            return bytes
        }.wait()
        let response = try JSONParser.parse(try #require(bytes))
        let generated = try #require(response["result"]?["correlationID"]?.stringValue)
        #expect(response["result"]?["taskLocal"]?.stringValue == generated)
    }

    @Test func itsErrorsCarryTheCorrelationIDAndNotificationsGetNothing() throws {
        let failed = try #require(
            try answer(
                #"{"jsonrpc":"2.0","id":2,"method":"test.now","params":{"text":"x","fail":true,"_meta":{"correlation_id":"c-2"}}}"#
            )
        )
        #expect(failed?["error"]?["code"] == -32602)
        #expect(failed?["error"]?["data"]?["field"] == "params.fail")
        #expect(failed?["error"]?["data"]?["correlation_id"] == "c-2")
        let badParams = try #require(try answer(#"{"jsonrpc":"2.0","id":3,"method":"test.now","params":{"text":5}}"#))
        #expect(badParams?["error"]?["data"]?["field"] == "params.text")
        let notification = try #require(try answer(#"{"jsonrpc":"2.0","method":"test.now","params":{"text":"n"}}"#))
        #expect(notification == nil, "a notification is never answered")
    }

    @Test func whatNeedsNoHandlerIsAnsweredAtOnce() throws {
        #expect(try answer("{nope")??["error"]?["code"] == -32700)
        #expect(try answer(#"{"jsonrpc":"2.0","id":1}"#)??["error"]?["code"] == -32600)
        #expect(try answer(#"{"jsonrpc":"2.0","id":1,"method":"test.missing"}"#)??["error"]?["code"] == -32601)
        #expect(
            try answer(
                #"{"jsonrpc":"2.0","id":1,"method":"test.now","params":{"text":"a","_meta":{"deadline_ms":0}}}"#)??[
                    "error"]?["data"]?["field"] == "params._meta.deadline_ms")
    }

    @Test func otherMethodsAndBatchesArePendingAndFinishInATask() async throws {
        guard
            case .pending(let later) = router.respondNow(
                to: ByteBuffer(string: #"{"jsonrpc":"2.0","id":7,"method":"test.later"}"#))
        else {
            Issue.record("an asynchronous method must be left to a task")
            return
        }
        let laterBytes = try #require(await router.respond(to: later))
        let laterResponse = try JSONParser.parse(laterBytes)
        #expect(laterResponse["result"] == "later")
        #expect(laterResponse["id"] == 7)

        let batch =
            #"[{"jsonrpc":"2.0","id":1,"method":"test.now","params":{"text":"b"}},{"jsonrpc":"2.0","id":2,"method":"test.later"}]"#
        guard case .pending(let pendingBatch) = router.respondNow(to: ByteBuffer(string: batch)) else {
            Issue.record("a batch must be left to a task")
            return
        }
        let batchBytes = try #require(await router.respond(to: pendingBatch))
        let batchResponse = try #require(try JSONParser.parse(batchBytes).arrayValue)
        #expect(batchResponse.count == 2)
        #expect(batchResponse.first?["result"]?["text"] == "b")
        #expect(batchResponse.last?["result"] == "later")
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

@Suite struct NoParamsTests {
    @Test(arguments: ["", #","params":{}"#, #","params":[]"#, #","params":{"_meta":{"correlation_id":"c"}}"#])
    func aMethodWithoutParametersTakesNoneAnEmptyArrayOrAnObject(params: String) async throws {
        let router = TestSupport.router([LaterMethod()])
        let response = try await TestSupport.respond(
            router, #"{"jsonrpc":"2.0","id":1,"method":"test.later"\#(params)}"#)
        #expect(response?["result"] == "later", "\(String(describing: response))")
    }

    @Test func aMethodWithoutParametersRefusesSomeNamingTheField() async throws {
        let router = TestSupport.router([LaterMethod()])
        let response = try await TestSupport.respond(
            router, #"{"jsonrpc":"2.0","id":1,"method":"test.later","params":[1]}"#)
        #expect(response?["error"]?["code"] == -32602)
        #expect(response?["error"]?["data"]?["field"] == "params")
    }
}

@Suite struct SynchronousMethodServerTests {
    @Test func answersMadeAtOnceWaitForAClientThatReadsLateAndReadingStopsMeanwhile() async throws {
        let folder = ServerTestSupport.temporaryFolder()
        let answered = Counter()
        let router = TestSupport.router([NowMethod(answered: answered), LaterMethod()])
        let configuration = UnixSocketServer.Configuration(path: folder + "/run/j.sock")
        // The buffers on the way (both sockets, the channel's pending writes, one read's worth of answers in the
        // inbox) take about 6,500 of these requests here. What the server has read is counted where it answers:
        // the client's own count of writes is no measure, as its async writer takes writes into a buffer of its own
        // until its event loop reports the channel unwritable, which a loaded machine can delay past all of them.
        let count = 50_000
        try await ServerTestSupport.withSocketServer(configuration, router: router) { path in
            let channel = try await ServerTestSupport.connect(path)
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for chunk in stride(from: 0, to: count, by: 100) {
                            var buffer = ByteBuffer()
                            for index in chunk..<chunk + 100 {
                                buffer.writeString(
                                    #"{"jsonrpc":"2.0","id":\#(index),"method":"test.now","params":{"text":"r\#(index)"}}"#
                                        + "\n")
                            }
                            try await outbound.write(buffer)
                        }
                    }
                    // Nothing is read yet: the answers fill the socket, then the server stops taking requests. It
                    // must answer none for a second before the end. (Which answers wait in the inbox rather than in
                    // the channel is checked by the handler's own test below.)
                    var last = -1
                    var still = 0
                    while still < 4 {
                        try await Task.sleep(for: .milliseconds(250))
                        let now = answered.value.load(ordering: .relaxed)
                        if now == count {
                            Issue.record("the server kept reading while its answers could not leave (\(now) read)")
                            break
                        }
                        still = now == last ? still + 1 : 0
                        last = now
                    }

                    var seen = Set<Int>()
                    var iterator = inbound.makeAsyncIterator()
                    while seen.count < count, let frame = try await iterator.next() {
                        guard case .message(let buffer) = frame.kind else { continue }
                        let response = try JSONParser.parse(Array(buffer.readableBytesView))
                        let id = try #require(response["id"]?.intValue)
                        #expect(response["result"]?["text"]?.stringValue == "r\(id)")
                        seen.insert(id)
                    }
                    #expect(seen.count == count, "every request is answered once")
                    try await group.waitForAll()
                }
            }
        }
    }
}

@Suite struct FrameInboxHandlerTests {
    static func request(_ id: Int) -> JSONRPCFrame {
        JSONRPCFrame(
            .message(ByteBuffer(string: #"{"jsonrpc":"2.0","id":\#(id),"method":"test.now","params":{"text":"t"}}"#)),
            framing: .newlineDelimited)
    }

    @Test func anAnswerMadeAtOnceIsWrittenWhenTheChannelTakesItAndQueuedWhenItDoesNot() async throws {
        let channel = EmbeddedChannel()
        let inbox = FrameInbox<ConnectionWork> {}
        let router = TestSupport.router([NowMethod(), LaterMethod()])
        try channel.pipeline.syncOperations.addHandler(FrameInboxHandler(inbox: inbox, router: router))

        // Two requests in one read: both answered, in one flush when the read ends.
        channel.pipeline.fireChannelRead(NIOAny(Self.request(1)))
        channel.pipeline.fireChannelRead(NIOAny(Self.request(5)))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "written, but not flushed before the read ends")
        channel.pipeline.fireChannelReadComplete()
        for id in [1, 5] {
            let answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(try JSONParser.parse(Array(answer.readableBytesView.dropLast()))["id"]?.intValue == id)
        }

        // A peer that takes nothing: the answer waits in the inbox, where it holds a place among the requests in
        // flight, instead of piling up in the channel.
        channel.isWritable = false
        try channel.writeInbound(Self.request(2))
        channel.pipeline.fireChannelReadComplete()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        guard case .response(let queued)? = try await inbox.next() else {
            Issue.record("the answer must wait in the inbox")
            return
        }
        #expect(try JSONParser.parse(Array(queued.readableBytesView.dropLast()))["id"]?.intValue == 2)

        // An asynchronous method goes to the inbox whatever the channel can take.
        channel.isWritable = true
        try channel.writeInbound(
            JSONRPCFrame(
                .message(ByteBuffer(string: #"{"jsonrpc":"2.0","id":3,"method":"test.later"}"#)),
                framing: .newlineDelimited))
        guard case .pending? = try await inbox.next() else {
            Issue.record("an asynchronous call must wait in the inbox")
            return
        }

        // After a graceful shutdown began, nothing more is answered.
        inbox.finish()
        try channel.writeInbound(Self.request(4))
        channel.pipeline.fireChannelReadComplete()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try channel.finish()
    }
}
