import CoreMetrics
import Logging
import NIOCore
import Synchronization

/// Turns one JSON-RPC message (a request, a notification or a batch) into its response, if it has one.
///
/// The router reads the envelope once, validates it as the specification says, binds the correlation id, decodes
/// the params once into the method's `Params`, and encodes its `Result`. It is transport-agnostic: the socket and
/// stdio servers hand it framed messages and write back what it returns.
public final class JSONRPCRouter: Sendable {
    public struct Configuration: Sendable {
        /// The most requests one batch may hold.
        public var maximumBatchSize: Int
        /// The level of the line logged for each finished request.
        public var requestLogLevel: Logger.Level
        /// The deepest nesting of arrays and objects accepted in a message.
        public var maximumNestingDepth: Int
        /// Where request lines go; `nil` for the router's logger (``SwiftLogRequestLog``). Lines are written only
        /// when the router's logger lets `requestLogLevel` through.
        public var requestLog: (any RequestLog)?
        /// The most requests of one batch that run at once; the others wait for a place. (A connection counts a
        /// batch as one request in flight, so without this 64 batches of 100 would be 6,400 handlers at once.)
        public var maximumBatchConcurrency: Int

        public init(
            maximumBatchSize: Int = 100,
            requestLogLevel: Logger.Level = .info,
            maximumNestingDepth: Int = 128,
            requestLog: (any RequestLog)? = nil,
            maximumBatchConcurrency: Int = 8
        ) {
            self.maximumBatchSize = maximumBatchSize
            self.requestLogLevel = requestLogLevel
            self.maximumNestingDepth = maximumNestingDepth
            self.requestLog = requestLog
            self.maximumBatchConcurrency = max(1, maximumBatchConcurrency)
        }
    }

    private let methods: [String: AnyJSONRPCMethod]
    private let configuration: Configuration
    private let logger: Logger
    private let requestLog: any RequestLog
    private let metrics: RPCMetrics

    /// Creates a router for `methods`.
    /// - Parameters:
    ///   - methods: The methods served; each name must be unique.
    ///   - configuration: Limits and logging.
    ///   - logger: The logger request lines are written to.
    ///   - metricsFactory: Where request counts and latencies are recorded.
    public init(
        methods: [any JSONRPCMethod],
        configuration: Configuration = Configuration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        var table: [String: AnyJSONRPCMethod] = [:]
        for method in methods {
            let erased = AnyJSONRPCMethod(method)
            precondition(table[erased.name] == nil, "method \(erased.name) is registered twice")
            table[erased.name] = erased
        }
        self.methods = table
        self.configuration = configuration
        self.logger = logger
        self.requestLog = configuration.requestLog ?? SwiftLogRequestLog(logger: logger)
        self.metrics = RPCMetrics(methodNames: Array(table.keys), factory: metricsFactory)
    }

    /// The names of the methods served, sorted.
    public var methodNames: [String] { methods.keys.sorted() }

    /// Answers one framed message.
    /// - Parameter message: The bytes of one message, without framing.
    /// - Returns: The response text, or `nil` when nothing is to be sent (notifications).
    ///
    /// This returns once every handler the message started has returned; a handler still running at its request's
    /// deadline is answered for then, but a caller of this method hears it only when the handler returns. Servers
    /// use ``respond(to:send:)`` to send such answers on time.
    public func respond(to message: ByteBuffer) async -> [UInt8]? {
        switch respondNow(to: message) {
        case .answered(let response): return response
        case .pending(let pending):
            let answer = Answer()
            await respond(to: pending) { bytes in answer.set(bytes) }
            return answer.bytes
        }
    }

    /// Holds the answer the method above waits for.
    private final class Answer: Sendable {
        private let stored = Mutex<[UInt8]?>(nil)
        var bytes: [UInt8]? { stored.withLock { $0 } }
        func set(_ bytes: [UInt8]) { stored.withLock { $0 = bytes } }
    }

    /// What ``respondNow(to:)`` did with a message.
    public enum ImmediateResponse: Sendable {
        /// The message is answered (`nil`: nothing is to be sent).
        case answered([UInt8]?)
        /// The message needs a task, which finishes it with `respond(to:)`.
        case pending(PendingMessage)
    }

    /// A message read and checked, whose handlers have yet to run.
    public struct PendingMessage: Sendable {
        fileprivate enum Work: Sendable {
            /// The batch's requests, and when it was read: their deadlines count from then.
            case batch([JSONValue], read: ContinuousClock.Instant)
            case call(Call)
        }

        fileprivate let work: Work
    }

    /// Answers what can be answered without waiting: a message that cannot be read or is not a valid request,
    /// an unknown method, and a single call of a ``SynchronousJSONRPCMethod``. Anything else is read and checked
    /// once and handed back, to be finished in a task. The servers call this as a message arrives, on the
    /// connection's event loop, so the cheapest requests start no task at all.
    public func respondNow(to message: ByteBuffer) -> ImmediateResponse {
        let parsed: JSONValue
        do {
            parsed = try message.withUnsafeReadableBytes { bytes in
                try JSONParser.parse(bytes, maxDepth: configuration.maximumNestingDepth)
            }
        } catch {
            return .answered(errorResponse(.parseError(String(describing: error)), id: .null))
        }
        if case .array(let elements) = parsed {
            return .pending(PendingMessage(work: .batch(elements, read: .now)))
        }
        switch prepare(parsed) {
        case .finished(let response):
            return .answered(response.map(Self.serialize))
        case .ready(let call):
            guard let invokeNow = call.method.invokeNow else { return .pending(PendingMessage(work: .call(call))) }
            return .answered(run(call, now: invokeNow).map(Self.serialize))
        }
    }

    /// Finishes a message ``respondNow(to:)`` could not answer at once.
    ///
    /// `send` gets the response text as soon as it is known, once (never for a notification, or a batch of them).
    /// That can be before this returns: a request whose `deadline_ms` passes while its handler runs is answered
    /// with `deadline_exceeded` at the deadline, and its handler is cancelled; this returns when the handler has
    /// returned, so that a server counting requests in flight until then keeps them bounded, also when handlers
    /// (a running database query, say) take time to stop.
    public func respond(to pending: PendingMessage, send: @escaping @Sendable ([UInt8]) async -> Void) async {
        switch pending.work {
        case .batch(let elements, let read):
            await respond(toBatch: elements, read: read, send: send)
        case .call(let call):
            await run(call) { response in
                if let response { await send(Self.serialize(response)) }
            }
        }
    }

    private static func serialize(_ response: JSONRPCResponse) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(128)
        response.serialize(into: &bytes)
        return bytes
    }

    /// The response text for an error that is not tied to a readable request (framing, size limits).
    public func errorResponse(_ error: JSONRPCError, id: JSONRPCID = .null) -> [UInt8] {
        let correlationID = CorrelationID.generate()
        logger.notice(
            "rejected message",
            metadata: ["correlation_id": .string(correlationID), "error_type": .string(error.type)]
        )
        var bytes = [UInt8]()
        JSONRPCResponse(id: id, outcome: .error(error, correlationID: correlationID)).serialize(into: &bytes)
        return bytes
    }

    private func respond(
        toBatch elements: [JSONValue],
        read: ContinuousClock.Instant,
        send: @escaping @Sendable ([UInt8]) async -> Void
    ) async {
        guard !elements.isEmpty else {
            return await send(errorResponse(.invalidRequest("a batch must hold at least one request")))
        }
        guard elements.count <= configuration.maximumBatchSize else {
            return await send(
                errorResponse(.invalidRequest("a batch may hold at most \(configuration.maximumBatchSize) requests")))
        }
        // The requests of a batch run concurrently, `maximumBatchConcurrency` handlers at a time; each request
        // waits for a place in a task of its own, so a deadline passing meanwhile is answered on time (and the
        // handler then never starts). The batch is answered once every request is, in the requests' order, which
        // the specification does not ask for but makes a batch easier to read.
        let answers = BatchAnswers(count: elements.count)
        let places = AsyncSemaphore(value: configuration.maximumBatchConcurrency)
        await withTaskGroup(of: Void.self) { group in
            for (index, element) in elements.enumerated() {
                group.addTask {
                    await self.respond(toElement: element, read: read, places: places) { response in
                        if let bytes = answers.record(response, at: index) { await send(bytes) }
                    }
                }
            }
        }
    }

    private func respond(
        toElement element: JSONValue,
        read: ContinuousClock.Instant,
        places: AsyncSemaphore,
        answer: (JSONRPCResponse?) async -> Void
    ) async {
        switch prepare(element, read: read) {
        case .finished(let response): await answer(response)
        case .ready(let call): await run(call, places: places, answer: answer)
        }
    }

    /// The answers of a batch's requests as they come; the whole batch's text once the last has answered.
    private final class BatchAnswers: Sendable {
        private struct Collected {
            var responses: [JSONRPCResponse?]
            var remaining: Int
        }

        private let collected: Mutex<Collected>

        init(count: Int) {
            collected = Mutex(Collected(responses: Array(repeating: nil, count: count), remaining: count))
        }

        /// Records request `index`'s answer (`nil` for a notification); returns the batch's response text when
        /// this was the last answer and any request has a response: a batch of notifications is answered with
        /// nothing at all, not with an empty array.
        func record(_ response: JSONRPCResponse?, at index: Int) -> [UInt8]? {
            let responses = collected.withLock { collected -> [JSONRPCResponse]? in
                collected.responses[index] = response
                collected.remaining -= 1
                return collected.remaining == 0 ? collected.responses.compactMap { $0 } : nil
            }
            guard let responses, !responses.isEmpty else { return nil }
            var bytes: [UInt8] = [UInt8(ascii: "[")]
            for (index, response) in responses.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                response.serialize(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
            return bytes
        }
    }

    /// A valid request for a known method, with its correlation id, ready to run.
    fileprivate struct Call: Sendable {
        var request: JSONRPCRequest
        var meta: RequestMeta
        var correlationID: String
        var method: AnyJSONRPCMethod
        /// When the request was read and checked (a batch's all at once): its duration counts from here.
        var start: ContinuousClock.Instant
        /// When the client stops waiting: `deadline_ms` after the message holding the request was read.
        var deadline: ContinuousClock.Instant?
    }

    private enum Preparation {
        /// Answered (or, for a notification, finished with nothing to send) without running a handler.
        case finished(JSONRPCResponse?)
        case ready(Call)
    }

    /// Validates the envelope and `_meta` and finds the method.
    /// - Parameter read: When the message holding the request was read (a batch's requests are prepared as they
    ///   get a place to run); now when `nil`.
    private func prepare(_ element: JSONValue, read: ContinuousClock.Instant? = nil) -> Preparation {
        let request: JSONRPCRequest
        do {
            request = try JSONRPCRequest(validating: element)
        } catch {
            let correlationID = CorrelationID.generate()
            return .finished(
                JSONRPCResponse(
                    id: error.id, outcome: .error(.invalidRequest(error.reason), correlationID: correlationID))
            )
        }
        let start = ContinuousClock.now
        let meta: RequestMeta
        do {
            meta = try RequestMeta(params: request.params)
        } catch {
            return .finished(
                finish(request, outcome: .failure(error), correlationID: CorrelationID.generate(), start: start))
        }
        let correlationID = meta.correlationID ?? CorrelationID.generate()
        guard let method = methods[request.method] else {
            let error = JSONRPCError.methodNotFound(request.method)
            return .finished(finish(request, outcome: .failure(error), correlationID: correlationID, start: start))
        }
        return .ready(
            Call(
                request: request, meta: meta, correlationID: correlationID, method: method, start: start,
                deadline: meta.deadlineMilliseconds.map { (read ?? start) + .milliseconds($0) }))
    }

    private func context(for call: Call) -> RequestContext {
        RequestContext(
            method: call.request.method,
            correlationID: call.correlationID,
            idempotencyKey: call.meta.idempotencyKey,
            deadline: call.deadline,
            logger: logger
        )
    }

    /// Runs a call's handler and gives `answer` its response (`nil` for a notification), once. With a deadline,
    /// the answer can come before this returns: see ``run(_:context:deadline:milliseconds:answer:)``.
    /// - Parameter places: Places the handler takes one of while it runs (a batch's), if any.
    private func run(_ call: Call, places: AsyncSemaphore? = nil, answer: (JSONRPCResponse?) async -> Void) async {
        await CorrelationID.$current.withValue(call.correlationID) {
            let context = context(for: call)
            if let deadline = call.deadline, let milliseconds = call.meta.deadlineMilliseconds {
                guard deadline > .now else {
                    // It waited past its deadline for a place to run (a full connection, a long batch): the client
                    // has stopped waiting, so nothing is started that it would not hear the end of.
                    let outcome = Result<JSONValue, JSONRPCError>.failure(
                        .deadlineExceeded(deadlineMilliseconds: milliseconds))
                    return await answer(
                        finish(call.request, outcome: outcome, correlationID: call.correlationID, start: call.start))
                }
                return await run(
                    call, context: context, deadline: deadline, milliseconds: milliseconds, places: places,
                    answer: answer)
            }
            let outcome: Result<JSONValue, JSONRPCError>
            do {
                outcome = .success(try await Self.invoke(call, context, holding: places))
            } catch {
                outcome = .failure(Self.clientError(for: error, logger: context.logger))
            }
            await answer(finish(call.request, outcome: outcome, correlationID: call.correlationID, start: call.start))
        }
    }

    /// Runs a handler that must finish within the client's deadline. When the deadline comes first, the client is
    /// answered `deadline_exceeded` at once and the handler is cancelled; this returns when the handler has
    /// returned (its result is dropped), so that it still counts among the connection's requests in flight.
    private func run(
        _ call: Call,
        context: RequestContext,
        deadline: ContinuousClock.Instant,
        milliseconds: Int,
        places: AsyncSemaphore?,
        answer: (JSONRPCResponse?) async -> Void
    ) async {
        enum Event: Sendable {
            case returned(Result<JSONValue, any Error>)
            case deadlinePassed
        }
        await withTaskGroup(of: Event?.self) { group in
            group.addTask {
                do {
                    // Cancelled at the deadline while it waits for a place, it never starts.
                    return .returned(.success(try await Self.invoke(call, context, holding: places)))
                } catch {
                    return .returned(.failure(error))
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return .deadlinePassed
                } catch {
                    return nil  // Cancelled: the handler returned first, or the server is stopping.
                }
            }
            var first: Event?
            while first == nil, let event = await group.next() { first = event }
            group.cancelAll()
            let outcome: Result<JSONValue, JSONRPCError>
            switch first {
            case .returned(.success(let result)):
                outcome = .success(result)
            case .returned(.failure(let error)):
                outcome = .failure(Self.clientError(for: error, logger: context.logger))
            case .deadlinePassed, nil:
                outcome = .failure(.deadlineExceeded(deadlineMilliseconds: milliseconds))
            }
            await answer(finish(call.request, outcome: outcome, correlationID: call.correlationID, start: call.start))
            // Leaving the group waits for a handler still running past the deadline.
        }
    }

    /// Invokes a call's handler, holding one of `places` (when given) while it runs.
    private static func invoke(
        _ call: Call, _ context: RequestContext, holding places: AsyncSemaphore?
    ) async throws -> JSONValue {
        guard let places else { return try await call.method.invoke(call.request.params, context) }
        try await places.wait()
        defer { places.signal() }
        return try await call.method.invoke(call.request.params, context)
    }

    /// Runs a synchronous handler where the caller is. A deadline cannot be missed by a handler that waits for
    /// nothing, so none is set up.
    private func run(
        _ call: Call,
        now invokeNow: @Sendable (JSONValue?, RequestContext) throws -> JSONValue
    ) -> JSONRPCResponse? {
        CorrelationID.$current.withValue(call.correlationID) {
            let context = context(for: call)
            let outcome: Result<JSONValue, JSONRPCError>
            do {
                outcome = .success(try invokeNow(call.request.params, context))
            } catch {
                outcome = .failure(Self.clientError(for: error, logger: context.logger))
            }
            return finish(call.request, outcome: outcome, correlationID: call.correlationID, start: call.start)
        }
    }

    /// Records, logs and builds the response of a request that has run (or failed before running).
    private func finish(
        _ request: JSONRPCRequest,
        outcome: Result<JSONValue, JSONRPCError>,
        correlationID: String,
        start: ContinuousClock.Instant
    ) -> JSONRPCResponse? {
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        let errorType: String?
        if case .failure(let error) = outcome { errorType = error.type } else { errorType = nil }
        metrics.record(method: request.method, nanoseconds: nanoseconds, errorType: errorType)
        if logger.logLevel <= configuration.requestLogLevel {
            requestLog.write(
                RequestLogLine(
                    level: configuration.requestLogLevel,
                    correlationID: correlationID,
                    method: methods[request.method] == nil ? RPCMetrics.unknownMethodLabel : request.method,
                    durationMilliseconds: Double(nanoseconds / 1_000) / 1_000,
                    errorType: errorType
                )
            )
        }
        guard let id = request.id else { return nil }
        switch outcome {
        case .success(let result):
            return JSONRPCResponse(id: id, outcome: .result(result))
        case .failure(let error):
            return JSONRPCResponse(id: id, outcome: .error(error, correlationID: correlationID))
        }
    }

    /// What the client is told about an error thrown by a handler.
    private static func clientError(for error: any Error, logger: Logger) -> JSONRPCError {
        switch error {
        case let error as any JSONRPCErrorConvertible:
            let converted = error.jsonRPCError
            // A domain error reported as internal or as a dependency outage has a cause the client is not told.
            if converted.code == JSONRPCError.internalError.code || converted.type == "unavailable",
                !(error is JSONRPCError)
            {
                logger.error("handler failed", metadata: ["error": .string(String(describing: error))])
            }
            return converted
        case is CancellationError:
            return .unavailable("The request was cancelled: the server is shutting down")
        default:
            // The client learns nothing of the cause; the log has it (error types keep secrets out of their
            // descriptions).
            logger.error("handler failed", metadata: ["error": .string(String(describing: error))])
            return .internalError
        }
    }
}
