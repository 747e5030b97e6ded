/// A JSON-RPC method: its name, its typed parameters and result, and its handler.
///
/// The router decodes `params` once, straight into `Params`; a decoding failure is answered with -32602 naming
/// the field. `params._meta` is read by the router before the method sees the request; a `Params` type may ignore
/// it (synthesised `Decodable` conformances skip unknown keys).
public protocol JSONRPCMethod: Sendable {
    associatedtype Params: Decodable & Sendable = NoParams
    associatedtype Result: Encodable & Sendable

    /// The method name, `namespace.verb`.
    static var name: String { get }

    /// Handles one call.
    /// - Parameters:
    ///   - params: The decoded parameters.
    ///   - context: The request's correlation id, idempotency key, deadline and logger.
    /// - Throws: A ``JSONRPCErrorConvertible`` for errors the client should see; anything else is reported
    ///   as -32603 and logged.
    func handle(_ params: Params, context: RequestContext) async throws -> Result
}

/// A method that answers at once: it waits for nothing (no I/O, no lock held for long, no suspension), so the server
/// may answer it on the connection's event loop as the request arrives, without starting a task for it. Its
/// `handle` runs the same code, for callers that go through ``JSONRPCMethod``.
public protocol SynchronousJSONRPCMethod: JSONRPCMethod {
    /// Handles one call without suspending; the same contract as ``JSONRPCMethod/handle(_:context:)``.
    func handleNow(_ params: Params, context: RequestContext) throws -> Result
}

extension SynchronousJSONRPCMethod {
    public func handle(_ params: Params, context: RequestContext) async throws -> Result {
        try handleNow(params, context: context)
    }
}

/// The parameters of a method that takes none: absent `params`, an empty array, or an object (which may
/// carry `_meta`).
public struct NoParams: Decodable, Sendable {
    public init() {}

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        switch value {
        case .object, .array([]): break
        default:
            throw DecodingError.typeMismatch(
                NoParams.self,
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "expected no parameters")
            )
        }
    }
}

/// Read without a `Decoder` on the path of every call that takes no parameters (`health.live` among them); what
/// this refuses, `init(from:)` refuses too, naming the field.
extension NoParams: JSONValueDecodable {
    public init?(decodingDirectly value: JSONValue) {
        switch value {
        case .object, .array([]): self.init()
        default: return nil
        }
    }
}

/// A result that builds its JSON itself, skipping `Encodable` and its containers: for the results of the methods
/// called most often. `jsonValue` must equal what the type's `Encodable` conformance produces (which stays the
/// reference, and what its tests compare with).
public protocol JSONValueRepresentable: SendableMetatype {
    var jsonValue: JSONValue { get }
}

/// A type that ``JSONValueDecoder`` reads straight from its JSON value when it can, without a `Decoder`: for leaf
/// types decoded on the path of every call. Returning `nil` falls back to `init(from:)`, which then reports the
/// error, so both must accept the same values.
public protocol JSONValueDecodable: Decodable {
    init?(decodingDirectly value: JSONValue)
}

/// A method with its types erased, as the router keeps it.
struct AnyJSONRPCMethod: Sendable {
    let name: String
    let invoke: @Sendable (_ params: JSONValue?, _ context: RequestContext) async throws -> JSONValue
    /// The handler of a ``SynchronousJSONRPCMethod``, called without a task; `nil` for the others.
    let invokeNow: (@Sendable (_ params: JSONValue?, _ context: RequestContext) throws -> JSONValue)?

    init<Method: JSONRPCMethod>(_ method: Method) {
        self.name = Method.name
        let readParams = Self.paramsReader(Method.Params.self)
        let writeResult = Self.resultWriter(Method.Result.self)
        self.invoke = { params, context in
            try writeResult(try await method.handle(try readParams(params), context: context))
        }
        if let synchronous = method as? any SynchronousJSONRPCMethod {
            self.invokeNow = Self.invokeNow(synchronous)
        } else {
            self.invokeNow = nil
        }
    }

    private static func invokeNow<Method: SynchronousJSONRPCMethod>(
        _ method: Method
    ) -> @Sendable (_ params: JSONValue?, _ context: RequestContext) throws -> JSONValue {
        let readParams = paramsReader(Method.Params.self)
        let writeResult = resultWriter(Method.Result.self)
        return { params, context in try writeResult(try method.handleNow(try readParams(params), context: context)) }
    }

    /// How a method reads its params, chosen once per method: a ``JSONValueDecodable`` type straight from the JSON
    /// (without the decoder's checks of which type it is reading, on every call), anything else, or anything the
    /// direct reading refuses, through ``decode(_:_:)``, which names the bad field.
    private static func paramsReader<Params: Decodable>(
        _ type: Params.Type
    ) -> @Sendable (JSONValue?) throws -> Params {
        if let direct = Params.self as? any JSONValueDecodable.Type {
            return directReader(direct, as: Params.self)
        }
        return { params in try decode(Params.self, params) }
    }

    /// `Direct` is `Params` itself, so the cast below is between identical types.
    private static func directReader<Direct: JSONValueDecodable, Params: Decodable>(
        _ direct: Direct.Type,
        as: Params.Type
    ) -> @Sendable (JSONValue?) throws -> Params {
        { params in
            if let value = Direct(decodingDirectly: params ?? .object(JSONObject())) { return value as! Params }
            return try decode(Params.self, params)
        }
    }

    /// Absent params decode like an empty object, so a method whose fields are all optional needs none. A params
    /// that does not decode is -32602 naming the field; only here: a handler's own decoding failing later is the
    /// server's fault, not the client's.
    private static func decode<Params: Decodable>(_ type: Params.Type, _ params: JSONValue?) throws -> Params {
        do {
            return try JSONValueDecoder().decode(Params.self, from: params ?? .object(JSONObject()))
        } catch let error as DecodingError {
            let (field, reason) = JSONValueDecoder.describe(error)
            let path = field.isEmpty || field.hasPrefix("[") ? "params" + field : "params." + field
            throw JSONRPCError.invalidParams(field: path, reason: reason)
        }
    }

    /// How a method's result becomes JSON, chosen once per method: a ``JSONValueRepresentable`` builds its own,
    /// anything else goes through the encoder.
    private static func resultWriter<Result: Encodable>(
        _ type: Result.Type
    ) -> @Sendable (Result) throws -> JSONValue {
        if let representable = Result.self as? any JSONValueRepresentable.Type {
            return representableWriter(representable, as: Result.self)
        }
        return { result in try JSONValueEncoder().encode(result) }
    }

    /// `Representable` is `Result` itself, so the cast below is between identical types (no conformance lookup,
    /// no existential box on each call).
    private static func representableWriter<Representable: JSONValueRepresentable, Result>(
        _ representable: Representable.Type,
        as: Result.Type
    ) -> @Sendable (Result) throws -> JSONValue {
        { result in (result as! Representable).jsonValue }
    }
}
