import CoreMetrics
import JSONRPC
import NIOCore
import Synchronization
import Testing

@Suite struct RouterTests {
    let router = TestSupport.router(maximumBatchSize: 5)

    func call(_ text: String) async throws -> JSONValue? {
        try await TestSupport.respond(router, text)
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}"#, 19),
        (#"{"jsonrpc":"2.0","method":"subtract","params":[23,42],"id":2}"#, -19),
        (#"{"jsonrpc":"2.0","method":"subtract","params":{"subtrahend":23,"minuend":42},"id":3}"#, 19),
        (#"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":42,"subtrahend":23},"id":4}"#, 19),
    ])
    func specificationsPositionalAndNamedExamples(_ request: String, _ expected: Int) async throws {
        let response = try #require(try await call(request))
        #expect(response["result"]?.intValue == expected)
        #expect(response["error"] == nil)
    }

    @Test(arguments: ["1", "1.50", "-0", "12345678901234567890", "\"abc\"", "null", "\"\""])
    func idsAreEchoedExactly(_ id: String) async throws {
        let bytes = try #require(
            await router.respond(to: .init(string: #"{"jsonrpc":"2.0","method":"sum","params":[1],"id":\#(id)}"#))
        )
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix(#","id":\#(id)}"#), "\(text)")
    }

    @Test(arguments: [
        (#"{"jsonrpc":"1.0","method":"sum","params":[1],"id":1}"#, "jsonrpc"),
        (#"{"method":"sum","params":[1],"id":1}"#, "jsonrpc"),
        (#"{"jsonrpc":"2.0","params":[1],"id":1}"#, "method"),
        (#"{"jsonrpc":"2.0","method":"sum","params":3,"id":1}"#, "params"),
        (#"{"jsonrpc":"2.0","method":"sum","params":[1],"id":{"a":1}}"#, "id"),
        (#"{"jsonrpc":"2.0","method":"sum","params":[1],"id":true}"#, "id"),
        (#""just a string""#, "object"),
    ])
    func invalidRequestsAreNamed(_ request: String, _ reasonMentions: String) async throws {
        let response = try #require(try await call(request))
        #expect(response["error"]?["code"]?.intValue == -32600)
        #expect(response["error"]?["data"]?["reason"]?.stringValue?.contains(reasonMentions) == true)
    }

    @Test func invalidParamsNameTheField() async throws {
        let wrongType = try #require(
            try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":5},"id":1}"#)
        )
        #expect(wrongType["error"]?["code"]?.intValue == -32602)
        #expect(wrongType["error"]?["data"]?["field"] == "params.text")
        #expect(wrongType["error"]?["data"]?["type"] == "invalid_params")
        let missing = try #require(try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{},"id":2}"#))
        #expect(missing["error"]?["data"]?["field"] == "params.text")
        let fractional = try #require(
            try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"a","count":1.5},"id":3}"#)
        )
        #expect(fractional["error"]?["data"]?["field"] == "params.count")
        let positional = try #require(try await call(#"{"jsonrpc":"2.0","method":"sum","params":[1,"x"],"id":4}"#))
        #expect(positional["error"]?["data"]?["field"] == "params[1]")
    }

    @Test func correlationIDIsTakenFromMetaOrGenerated() async throws {
        let given = try #require(
            try await call(
                #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"hi","_meta":{"correlation_id":"abc-1"}},"id":1}"#
            )
        )
        #expect(given["result"]?["correlationID"] == "abc-1")
        #expect(given["result"]?["taskLocal"] == "abc-1")
        let generated = try #require(
            try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"hi"},"id":2}"#))
        let id = try #require(generated["result"]?["correlationID"]?.stringValue)
        #expect(id.count == 36 && CorrelationID.isValid(id))
        #expect(generated["result"]?["taskLocal"]?.stringValue == id)
    }

    /// Generated ids have the UUID layout in lower-case hex (so logs and clients can read them as UUIDs), and do
    /// not repeat.
    @Test func generatedCorrelationIDsAreUUIDShapedAndUnique() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = CorrelationID.generate()
            let groups = id.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(id)")
            #expect(id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) || $0 == 45 }, "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test func errorsCarryTheRequestsCorrelationID() async throws {
        let response = try #require(
            try await call(
                #"{"jsonrpc":"2.0","method":"test.fail","params":{"kind":"not_found","_meta":{"correlation_id":"c-9"}},"id":1}"#
            )
        )
        #expect(response["error"]?["code"]?.intValue == -32001)
        #expect(response["error"]?["data"]?["type"] == "not_found")
        #expect(response["error"]?["data"]?["correlation_id"] == "c-9")
    }

    @Test(arguments: [
        (#"{"_meta":5}"#, "params._meta"),
        (#"{"_meta":{"correlation_id":"has space"}}"#, "params._meta.correlation_id"),
        (#"{"_meta":{"correlation_id":""}}"#, "params._meta.correlation_id"),
        (#"{"_meta":{"correlation_id":"line\nbreak"}}"#, "params._meta.correlation_id"),
        (#"{"_meta":{"idempotency_key":7}}"#, "params._meta.idempotency_key"),
        (#"{"_meta":{"deadline_ms":0}}"#, "params._meta.deadline_ms"),
        (#"{"_meta":{"deadline_ms":1.5}}"#, "params._meta.deadline_ms"),
    ])
    func invalidMetaIsRejected(_ params: String, _ field: String) async throws {
        let response = try #require(
            try await call(#"{"jsonrpc":"2.0","method":"get_data","params":\#(params),"id":1}"#))
        #expect(response["error"]?["code"]?.intValue == -32602)
        #expect(response["error"]?["data"]?["field"]?.stringValue == field)
        #expect(response["error"]?["data"]?["correlation_id"]?.stringValue != nil)
    }

    @Test func overlongCorrelationIDIsRejected() async throws {
        let long = String(repeating: "a", count: 129)
        let response = try #require(
            try await call(
                #"{"jsonrpc":"2.0","method":"get_data","params":{"_meta":{"correlation_id":"\#(long)"}},"id":1}"#)
        )
        #expect(response["error"]?["data"]?["field"] == "params._meta.correlation_id")
    }

    @Test func internalErrorsTellNothing() async throws {
        let response = try #require(
            try await call(#"{"jsonrpc":"2.0","method":"test.fail","params":{"kind":"boom"},"id":1}"#)
        )
        #expect(response["error"]?["code"]?.intValue == -32603)
        #expect(response["error"]?["message"] == "Internal error")
        let text = response.jsonString
        #expect(!text.contains("hunter2") && !text.contains("postgres"))
    }

    @Test func deadlineStopsASlowHandler() async throws {
        let response = try #require(
            try await call(
                #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":5000,"_meta":{"deadline_ms":50}},"id":1}"#)
        )
        #expect(response["error"]?["code"]?.intValue == -32005)
        #expect(response["error"]?["data"]?["type"] == "deadline_exceeded")
        let quick = try #require(
            try await call(
                #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":1,"_meta":{"deadline_ms":5000}},"id":2}"#)
        )
        #expect(quick["result"] == "slept")
    }

    /// Sends `text` (a request the router cannot answer at once) and returns the first answer `send` got, with the
    /// stream of any later ones, which ends when the router's call returns. A safety net opens `tag`'s gate after
    /// 10 s, so a router that answers only when the handler returns fails the test instead of hanging it.
    private func firstAnswer(
        _ text: String, tag: String, router: JSONRPCRouter? = nil
    ) async throws -> (JSONValue, AsyncStream<[UInt8]>.Iterator) {
        let router = router ?? self.router
        let immediate = router.respondNow(to: ByteBuffer(string: text))
        let waiting: JSONRPCRouter.PendingMessage? = if case .pending(let pending) = immediate { pending } else { nil }
        let pending = try #require(waiting, "the router answered at once")
        let (answers, continuation) = AsyncStream<[UInt8]>.makeStream()
        Task {
            await router.respond(to: pending) { bytes in continuation.yield(bytes) }
            continuation.finish()
        }
        Task {
            try await Task.sleep(for: .seconds(10))
            Gates.open(tag)
        }
        var iterator = answers.makeAsyncIterator()
        let first = try #require(await iterator.next())
        return (try JSONParser.parse(first), iterator)
    }

    @Test func aHandlerStillRunningAtTheDeadlineIsAnsweredThenAndTheCallEndsWhenItReturns() async throws {
        // This tests something only if the handler started before its deadline; on a loaded machine the task can
        // start late (it is then answered without running), so the deadline grows until it did.
        for deadline in [300, 1_500, 6_000] {
            let tag = "stubborn-\(UInt64.random(in: 0...UInt64.max))"
            var (answer, later) = try await firstAnswer(
                #"{"jsonrpc":"2.0","method":"test.stubborn","params":{"tag":"\#(tag)","#
                    + #""_meta":{"deadline_ms":\#(deadline)}},"id":7}"#,
                tag: tag)
            guard StartedRequests.contains(tag) else {
                Gates.open(tag)
                _ = await later.next()
                continue
            }
            #expect(!Gates.hasReturned(tag), "answered before the handler returned")
            #expect(answer["id"] == 7)
            #expect(answer["error"]?["code"]?.intValue == -32005)
            #expect(answer["error"]?["data"]?["type"] == "deadline_exceeded")
            #expect(answer["error"]?["data"]?["deadline_ms"]?.intValue == deadline)
            Gates.open(tag)
            #expect(await later.next() == nil, "one answer only; the call ends once the handler has returned")
            #expect(Gates.hasReturned(tag))
            return
        }
        Issue.record("the handler never started within its deadline")
    }

    @Test func aBatchIsAnsweredWhenItsRequestsAreEvenIfAHandlerRunsPastItsDeadline() async throws {
        let tag = "stubborn-\(UInt64.random(in: 0...UInt64.max))"
        let batch = """
            [{"jsonrpc":"2.0","method":"test.stubborn","params":{"tag":"\(tag)","_meta":{"deadline_ms":500}},"id":1},
             {"jsonrpc":"2.0","method":"notify_hello","params":[7]},
             {"jsonrpc":"2.0","method":"sum","params":[1,2],"id":2}]
            """
        var (answer, later) = try await firstAnswer(batch, tag: tag)
        #expect(!Gates.hasReturned(tag), "answered before the handler returned")
        #expect(answer.arrayValue?.map { $0["id"] } == [1, 2])
        #expect(answer.arrayValue?.first?["error"]?["data"]?["type"] == "deadline_exceeded")
        #expect(answer.arrayValue?.last?["result"] == 3)
        Gates.open(tag)
        #expect(await later.next() == nil)
    }

    @Test func aRequestThatWaitedPastItsDeadlineForAPlaceIsAnsweredWithoutRunning() async throws {
        let tag = "late-\(UInt64.random(in: 0...UInt64.max))"
        let immediate = router.respondNow(
            to: ByteBuffer(
                string: #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":1,"tag":"\#(tag)","#
                    + #""_meta":{"deadline_ms":20}},"id":1}"#))
        let waiting: JSONRPCRouter.PendingMessage? = if case .pending(let pending) = immediate { pending } else { nil }
        let pending = try #require(waiting)
        // As if the connection had no free place for longer than the deadline.
        try await Task.sleep(for: .milliseconds(100))
        let answer = try JSONParser.parse(try #require(await router.respond(to: pending)))
        #expect(answer["error"]?["data"]?["type"] == "deadline_exceeded")
        #expect(!StartedRequests.contains(tag), "the handler ran after the client stopped waiting")
    }

    /// A batch's deadlines count from when it was read, not from when each request gets one of the batch's places:
    /// a request still waiting for a place at its deadline (behind a handler running past its own) is answered
    /// then, without running, and the batch with it.
    @Test func aBatchsDeadlinesCountFromWhenItWasRead() async throws {
        let (stubborn, queued) = (
            "stubborn-\(UInt64.random(in: 0...UInt64.max))", "queued-\(UInt64.random(in: 0...UInt64.max))"
        )
        let batch = """
            [{"jsonrpc":"2.0","method":"test.stubborn","params":{"tag":"\(stubborn)","_meta":{"deadline_ms":300}},"id":1},
             {"jsonrpc":"2.0","method":"test.sleep","params":{"ms":1,"tag":"\(queued)","_meta":{"deadline_ms":300}},"id":2}]
            """
        var (answer, later) = try await firstAnswer(
            batch, tag: stubborn, router: TestSupport.router(maximumBatchConcurrency: 1))
        #expect(!Gates.hasReturned(stubborn), "answered only once the handler holding the place returned")
        #expect(answer.arrayValue?.map { $0["error"]?["data"]?["type"] } == ["deadline_exceeded", "deadline_exceeded"])
        Gates.open(stubborn)
        #expect(await later.next() == nil)
        #expect(!StartedRequests.contains(queued), "the queued request ran after the client stopped waiting")
    }

    @Test func batchesOverTheLimitAreRefusedWhole() async throws {
        let six = Array(repeating: #"{"jsonrpc":"2.0","method":"sum","params":[1],"id":1}"#, count: 6)
        let response = try #require(try await call("[" + six.joined(separator: ",") + "]"))
        #expect(response.objectValue != nil, "one error object, not an array")
        #expect(response["error"]?["code"]?.intValue == -32600)
        let five = try #require(try await call("[" + six.dropLast().joined(separator: ",") + "]"))
        #expect(five.arrayValue?.count == 5)
    }

    @Test func batchResponsesKeepRequestOrderAndSkipNotifications() async throws {
        let batch = """
            [{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":30,"tag":"a"},"id":"a"},
             {"jsonrpc":"2.0","method":"test.fail","params":{"kind":"boom"}},
             {"jsonrpc":"2.0","method":"test.sleep","params":{"ms":1,"tag":"b"},"id":"b"}]
            """
        let response = try #require(try await call(batch))
        #expect(response.arrayValue?.map { $0["id"] } == ["a", "b"])
    }

    @Test func notificationsAreNeverAnswered() async throws {
        #expect(try await call(#"{"jsonrpc":"2.0","method":"test.fail","params":{"kind":"boom"}}"#) == nil)
        #expect(try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":5}}"#) == nil)
        #expect(try await call(#"{"jsonrpc":"2.0","method":"missing"}"#) == nil)
        // An explicit null id is a call, not a notification.
        let withNull = try #require(try await call(#"{"jsonrpc":"2.0","method":"missing","id":null}"#))
        #expect(withNull["error"]?["code"]?.intValue == -32601)
        #expect(withNull["id"] == .null)
    }

    @Test func deepNestingIsAParseError() async throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let response = try #require(try await call(deep))
        #expect(response["error"]?["code"]?.intValue == -32700)
        #expect(response["id"] == .null)
    }

    @Test(arguments: ["", "   ", "{", "nul", "[1,]", "{\"a\":1}x", "\u{FEFF}{}"])
    func unparsableTextIsAParseError(_ text: String) async throws {
        let response = try #require(try await call(text))
        #expect(response["error"]?["code"]?.intValue == -32700)
        #expect(response["error"]?["data"]?["correlation_id"]?.stringValue != nil)
    }

    @Test func invalidUTF8IsAParseError() async throws {
        let buffer = ByteBuffer(bytes: [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D])
        let bytes = try #require(await router.respond(to: buffer))
        #expect(try JSONParser.parse(bytes)["error"]?["code"]?.intValue == -32700)
    }
}

/// A result whose `jsonValue` differs from its `Encodable` form on purpose, to tell which one the router used.
private struct Marked: Encodable, Sendable, JSONValueRepresentable {
    var value = 1
    var jsonValue: JSONValue { ["value": 1, "built": "directly"] }
}

private struct MarkedMethod: JSONRPCMethod {
    static let name = "test.marked"
    func handle(_ params: NoParams, context: RequestContext) async throws -> Marked { Marked() }
}

private struct PlainMethod: JSONRPCMethod {
    struct Result: Encodable, Sendable { var value = 1 }
    static let name = "test.plain"
    func handle(_ params: NoParams, context: RequestContext) async throws -> Result { Result() }
}

@Suite struct JSONValueRepresentableResultTests {
    @Test func aRepresentableResultIsAnsweredWithItsJSONValueAndOthersAreEncoded() async throws {
        let router = TestSupport.router([MarkedMethod(), PlainMethod()])
        let marked = try await TestSupport.respond(router, #"{"jsonrpc":"2.0","id":1,"method":"test.marked"}"#)
        #expect(marked?["result"] == ["value": 1, "built": "directly"])
        let plain = try await TestSupport.respond(router, #"{"jsonrpc":"2.0","id":1,"method":"test.plain"}"#)
        #expect(plain?["result"] == ["value": 1])
    }
}

/// A method whose handler decodes something of its own (a stored row, say) and fails.
private struct InnerDecodingMethod: JSONRPCMethod {
    struct Params: Decodable, Sendable { var count: Int }
    struct Stored: Decodable { var secretColumn: Int }
    static let name = "test.innerDecoding"
    func handle(_ params: Params, context: RequestContext) async throws -> Int {
        try JSONValueDecoder().decode(Stored.self, from: ["secretColumn": "not a number"]).secretColumn
    }
}

@Suite struct DecodingErrorTests {
    let router = TestSupport.router([InnerDecodingMethod()])

    @Test func paramsThatDoNotDecodeAreInvalidParamsNamingTheField() async throws {
        let response = try await TestSupport.respond(
            router, #"{"jsonrpc":"2.0","id":1,"method":"test.innerDecoding","params":{"count":"x"}}"#)
        #expect(response?["error"]?["code"] == -32602)
        #expect(response?["error"]?["data"]?["field"] == "params.count")
    }

    @Test func aHandlersOwnDecodingFailureIsAnInternalErrorThatNamesNothing() async throws {
        let response = try await TestSupport.respond(
            router, #"{"jsonrpc":"2.0","id":1,"method":"test.innerDecoding","params":{"count":1}}"#)
        #expect(response?["error"]?["code"] == -32603)
        let text = try #require(response).jsonString
        #expect(!text.contains("secretColumn"), "\(text)")
    }
}

/// Counts the handlers running at once.
private final class ConcurrencyProbe: Sendable {
    let running = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
}

private struct ProbeMethod: JSONRPCMethod {
    static let name = "test.probe"
    let probe: ConcurrencyProbe
    func handle(_ params: NoParams, context: RequestContext) async throws -> Int {
        let now = probe.running.add(1, ordering: .sequentiallyConsistent).newValue
        _ = probe.peak.max(now, ordering: .sequentiallyConsistent)
        try await Task.sleep(for: .milliseconds(20))
        probe.running.subtract(1, ordering: .sequentiallyConsistent)
        return now
    }
}

@Suite struct BatchConcurrencyTests {
    @Test func aBatchRunsAtMostItsConcurrencyAtOnceAndAnswersEveryRequestInOrder() async throws {
        let probe = ConcurrencyProbe()
        let router = JSONRPCRouter(
            methods: [ProbeMethod(probe: probe)],
            configuration: .init(maximumBatchConcurrency: 4),
            logger: TestSupport.logger,
            metricsFactory: NOOPMetricsHandler.instance
        )
        let batch = (1...20).map { #"{"jsonrpc":"2.0","method":"test.probe","id":\#($0)}"# }.joined(separator: ",")
        let response = try #require(try await TestSupport.respond(router, "[" + batch + "]"))
        let ids = try #require(response.arrayValue).map { $0["id"]?.intValue }
        #expect(ids == Array(1...20))
        let peak = probe.peak.load(ordering: .sequentiallyConsistent)
        #expect(peak <= 4, "at most 4 at once, saw \(peak)")
        #expect(peak >= 2, "the batch still runs concurrently")
    }
}
