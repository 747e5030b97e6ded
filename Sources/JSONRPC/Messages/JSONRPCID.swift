/// The `id` of a JSON-RPC request, echoed exactly in its response.
///
/// A number keeps its JSON text, so `1`, `1.0` and `12345678901234567890` come back as they were sent.
public enum JSONRPCID: Sendable, Hashable {
    case number(String)
    case string(String)
    /// An explicit `"id": null`: still a call, not a notification, though the specification discourages it.
    case null

    /// The id as a JSON value.
    public var jsonValue: JSONValue {
        switch self {
        case .number(let text): .number(text)
        case .string(let text): .string(text)
        case .null: .null
        }
    }

    /// Reads an id; `nil` for a value that cannot be an id (an object, an array, a boolean).
    public init?(_ value: JSONValue) {
        switch value {
        case .number(let text): self = .number(text)
        case .string(let text): self = .string(text)
        case .null: self = .null
        default: return nil
        }
    }
}
