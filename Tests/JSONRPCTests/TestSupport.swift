import CoreMetrics
import JSONRPC
import Logging
import NIOCore
import Synchronization
import Testing

/// Loggers and routers for tests: nothing is printed, nothing is recorded globally.
enum TestSupport {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The folder of shared test fixtures, found from this file so tests run from any working directory.
    static let fixtures: String = {
        let file = #filePath
        let testsFolder = file.split(separator: "/").dropLast(2).joined(separator: "/")
        return "/" + testsFolder + "/Fixtures"
    }()

    static func router(
        _ methods: [any JSONRPCMethod] = SpecMethods.all,
        maximumBatchSize: Int = 100,
        maximumBatchConcurrency: Int = 8
    ) -> JSONRPCRouter {
        JSONRPCRouter(
            methods: methods,
            configuration: .init(maximumBatchSize: maximumBatchSize, maximumBatchConcurrency: maximumBatchConcurrency),
            logger: logger,
            metricsFactory: NOOPMetricsHandler.instance
        )
    }

    /// Sends one message text to the router and parses what comes back.
    static func respond(_ router: JSONRPCRouter, _ text: String) async throws -> JSONValue? {
        guard let bytes = await router.respond(to: ByteBuffer(string: text)) else { return nil }
        return try JSONParser.parse(bytes)
    }
}

extension JSONRPCRouter {
    /// Finishes a pending message and returns what it sent (`nil`: nothing), once the call has returned.
    func respond(to pending: PendingMessage) async -> [UInt8]? {
        let sent = Mutex<[[UInt8]]>([])
        await respond(to: pending) { bytes in sent.withLock { $0.append(bytes) } }
        let all = sent.withLock { $0 }
        #expect(all.count <= 1, "a message is answered once")
        return all.first
    }
}

/// The methods the specification's examples call: `subtract`, `sum`, `get_data` and the notifications
/// `update`, `notify_sum` and `notify_hello`.
enum SpecMethods {
    static let all: [any JSONRPCMethod] = [
        Subtract(), Sum(), GetData(), Notification<UpdateName>(), Notification<NotifySumName>(),
        Notification<NotifyHelloName>(), Echo(), Sleep(), Fail(), Stubborn(),
    ]

    /// `subtract`, by position (`[minuend, subtrahend]`) or by name.
    struct Subtract: JSONRPCMethod {
        static let name = "subtract"

        struct Params: Decodable, Sendable {
            var minuend: Int
            var subtrahend: Int

            enum CodingKeys: String, CodingKey { case minuend, subtrahend }

            init(from decoder: any Decoder) throws {
                if var positional = try? decoder.unkeyedContainer() {
                    minuend = try positional.decode(Int.self)
                    subtrahend = try positional.decode(Int.self)
                } else {
                    let named = try decoder.container(keyedBy: CodingKeys.self)
                    minuend = try named.decode(Int.self, forKey: .minuend)
                    subtrahend = try named.decode(Int.self, forKey: .subtrahend)
                }
            }
        }

        func handle(_ params: Params, context: RequestContext) async throws -> Int {
            params.minuend - params.subtrahend
        }
    }

    struct Sum: JSONRPCMethod {
        static let name = "sum"
        func handle(_ params: [Int], context: RequestContext) async throws -> Int { params.reduce(0, +) }
    }

    struct GetData: JSONRPCMethod {
        static let name = "get_data"
        func handle(_ params: NoParams, context: RequestContext) async throws -> JSONValue { ["hello", 5] }
    }

    protocol StaticName { static var name: String { get } }
    enum UpdateName: StaticName { static let name = "update" }
    enum NotifySumName: StaticName { static let name = "notify_sum" }
    enum NotifyHelloName: StaticName { static let name = "notify_hello" }

    struct Notification<Name: StaticName>: JSONRPCMethod {
        static var name: String { Name.name }
        func handle(_ params: JSONValue, context: RequestContext) async throws -> JSONValue { .null }
    }

    /// `echo`: returns its params with the correlation id it ran under.
    struct Echo: JSONRPCMethod {
        static let name = "test.echo"

        struct Params: Decodable, Sendable {
            var text: String
            var count: Int?
        }

        struct Result: Encodable, Sendable {
            var text: String
            var correlationID: String
            var taskLocal: String?
        }

        func handle(_ params: Params, context: RequestContext) async throws -> Result {
            Result(text: params.text, correlationID: context.correlationID, taskLocal: CorrelationID.current)
        }
    }

    /// `test.sleep {ms}`: answers after a pause, to test concurrency, deadlines and draining.
    struct Sleep: JSONRPCMethod {
        static let name = "test.sleep"

        struct Params: Decodable, Sendable {
            var ms: Int
            var tag: String?
        }

        func handle(_ params: Params, context: RequestContext) async throws -> String {
            if let tag = params.tag { StartedRequests.mark(tag) }
            try await Task.sleep(for: .milliseconds(params.ms))
            return params.tag ?? "slept"
        }
    }

    /// `test.fail {kind}`: throws a not-found error or an internal one.
    struct Fail: JSONRPCMethod {
        static let name = "test.fail"

        struct Params: Decodable, Sendable {
            var kind: String
        }

        struct SecretError: Error, CustomStringConvertible {
            var description: String { "connection to postgres://admin:hunter2@db failed" }
        }

        func handle(_ params: Params, context: RequestContext) async throws -> String {
            if params.kind == "not_found" { throw JSONRPCError.notFound("No such recipe") }
            throw SecretError()
        }
    }
}

extension SpecMethods {
    /// `test.stubborn {tag}`: waits until the test opens its gate (``Gates/open(_:)``), ignoring cancellation, as a
    /// handler inside a running database query would; then returns its tag.
    struct Stubborn: JSONRPCMethod {
        static let name = "test.stubborn"

        struct Params: Decodable, Sendable {
            var tag: String
        }

        func handle(_ params: Params, context: RequestContext) async throws -> String {
            StartedRequests.mark(params.tag)
            await Gates.wait(params.tag)
            Gates.markReturned(params.tag)
            return params.tag
        }
    }
}

/// Gates `test.stubborn` handlers wait at, each opened once by a test; and which of those handlers have returned.
enum Gates {
    private struct State {
        var opened: Set<String> = []
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
        var returned: Set<String> = []
    }

    private static let state = Mutex(State())

    static func wait(_ tag: String) async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.opened.contains(tag) { return true }
                state.waiting[tag, default: []].append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    static func open(_ tag: String) {
        let waiting = state.withLock { state in
            state.opened.insert(tag)
            return state.waiting.removeValue(forKey: tag) ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    static func markReturned(_ tag: String) { state.withLock { _ = $0.returned.insert(tag) } }

    static func hasReturned(_ tag: String) -> Bool { state.withLock { $0.returned.contains(tag) } }
}

/// Tags of `test.sleep` requests whose handler has started, so a test can wait for "running" instead of guessing
/// with a sleep.
enum StartedRequests {
    private static let tags = Mutex<Set<String>>([])

    static func mark(_ tag: String) { tags.withLock { _ = $0.insert(tag) } }

    static func contains(_ tag: String) -> Bool { tags.withLock { $0.contains(tag) } }

    static func waitFor(_ tag: String) async throws {
        for _ in 0..<2000 where !tags.withLock({ $0.contains(tag) }) {
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
