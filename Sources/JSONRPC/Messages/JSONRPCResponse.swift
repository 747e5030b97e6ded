/// One response object: a result or an error for the request with `id`.
public struct JSONRPCResponse: Sendable {
    public enum Outcome: Sendable {
        case result(JSONValue)
        /// The error and the `error.data` to send with it (its type, correlation id and details).
        case error(JSONRPCError, correlationID: String?)
    }

    public var id: JSONRPCID
    public var outcome: Outcome

    public init(id: JSONRPCID, outcome: Outcome) {
        self.id = id
        self.outcome = outcome
    }

    /// Appends the compact JSON text of the response.
    public func serialize(into bytes: inout [UInt8]) {
        // The envelope is written by hand: it is the same few bytes on every response, and building an
        // object for it would cost more than the result of a small method.
        bytes.append(contentsOf: #"{"jsonrpc":"2.0","#.utf8)
        switch outcome {
        case .result(let result):
            bytes.append(contentsOf: #""result":"#.utf8)
            result.serialize(into: &bytes)
        case .error(let error, let correlationID):
            bytes.append(contentsOf: #""error":"#.utf8)
            JSONValue.object(Self.errorObject(error, correlationID: correlationID)).serialize(into: &bytes)
        }
        bytes.append(contentsOf: #","id":"#.utf8)
        id.jsonValue.serialize(into: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    private static func errorObject(_ error: JSONRPCError, correlationID: String?) -> JSONObject {
        var data: JSONObject = ["type": .string(error.type)]
        if let correlationID {
            data["correlation_id"] = .string(correlationID)
        }
        for (key, value) in error.details where key != "type" && key != "correlation_id" {
            data[key] = value
        }
        return ["code": JSONValue(error.code), "message": .string(error.message), "data": .object(data)]
    }
}
