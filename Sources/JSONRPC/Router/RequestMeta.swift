/// The members of `params._meta`, validated.
struct RequestMeta: Sendable {
    var correlationID: String?
    var idempotencyKey: String?
    var deadlineMilliseconds: Int?

    static let maximumIdempotencyKeyLength = 255
    static let maximumDeadlineMilliseconds = 3_600_000

    /// Reads `_meta` from the params of a request; absent params or `_meta` give an empty meta.
    /// - Throws: ``JSONRPCError/invalidParams(field:reason:)`` naming the bad member.
    init(params: JSONValue?) throws(JSONRPCError) {
        guard case .object(let object)? = params, let meta = object["_meta"] else { return }
        guard case .object(let members) = meta else {
            throw .invalidParams(field: "params._meta", reason: "must be an object")
        }
        if let value = members["correlation_id"] {
            guard case .string(let id) = value, CorrelationID.isValid(id) else {
                throw .invalidParams(
                    field: "params._meta.correlation_id",
                    reason: "must be 1 to \(CorrelationID.maximumLength) letters, digits, '.', '_', ':' or '-'"
                )
            }
            correlationID = id
        }
        if let value = members["idempotency_key"] {
            guard case .string(let key) = value, !key.isEmpty, key.utf8.count <= Self.maximumIdempotencyKeyLength,
                key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw .invalidParams(
                    field: "params._meta.idempotency_key",
                    reason: "must be 1 to \(Self.maximumIdempotencyKeyLength) printable ASCII characters without spaces"
                )
            }
            idempotencyKey = key
        }
        if let value = members["deadline_ms"] {
            guard let milliseconds = value.intValue, milliseconds > 0, milliseconds <= Self.maximumDeadlineMilliseconds
            else {
                throw .invalidParams(
                    field: "params._meta.deadline_ms",
                    reason: "must be an integer from 1 to \(Self.maximumDeadlineMilliseconds)"
                )
            }
            deadlineMilliseconds = milliseconds
        }
    }
}
