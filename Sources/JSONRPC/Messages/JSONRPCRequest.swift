/// One request object of a JSON-RPC 2.0 message, validated.
public struct JSONRPCRequest: Sendable {
    /// The id; `nil` for a notification, which is never answered.
    public var id: JSONRPCID?
    /// The method name.
    public var method: String
    /// `params`: an object, an array, or absent.
    public var params: JSONValue?

    public var isNotification: Bool { id == nil }

    public init(id: JSONRPCID?, method: String, params: JSONValue?) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Why a value is not a request, and the id to answer with.
    public struct Invalid: Error, Sendable {
        /// The id to echo: the request's own when it could be read, otherwise `null`.
        public var id: JSONRPCID
        public var reason: String
    }

    /// Validates one element of a message as a request object.
    /// - Throws: ``Invalid`` naming what is wrong.
    public init(validating value: JSONValue) throws(Invalid) {
        guard case .object(let object) = value else {
            throw Invalid(id: .null, reason: "a request must be an object")
        }
        var id: JSONRPCID?
        if let rawID = object["id"] {
            guard let parsed = JSONRPCID(rawID) else {
                throw Invalid(id: .null, reason: "id must be a string, a number or null")
            }
            id = parsed
        }
        // An invalid request is answered even without an id (the specification's example E2).
        let answerID = id ?? .null
        guard case .string("2.0") = object["jsonrpc"] else {
            throw Invalid(id: answerID, reason: "jsonrpc must be \"2.0\"")
        }
        guard case .string(let method) = object["method"] else {
            throw Invalid(id: answerID, reason: "method must be a string")
        }
        let params = object["params"]
        switch params {
        case nil, .object?, .array?: break
        default: throw Invalid(id: answerID, reason: "params must be an object or an array")
        }
        self.init(id: id, method: method, params: params)
    }
}
