import JSONRPC
import Redis

/// A Redis failure a handler did not handle itself, as the client sees it: an outage or a timeout is `unavailable`
/// (worth retrying; after a timeout the request may have taken effect), anything else an internal error.
extension RedisError: JSONRPCErrorConvertible {
    public var jsonRPCError: JSONRPCError {
        switch code {
        case .timeout, .poolTimeout:
            .unavailable("Redis did not answer in time; the request may have taken effect")
        case .connectionFailed, .connectionClosed, .shutDown:
            .unavailable("Redis cannot be reached")
        default:
            .internalError
        }
    }
}
