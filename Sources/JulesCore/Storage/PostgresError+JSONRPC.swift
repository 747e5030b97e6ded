import JSONRPC
import Postgres

/// Database failures as clients see them: the database being out of reach is `unavailable` (worth a retry); any
/// other failure is an internal error whose details stay in the log.
extension PostgresError: JSONRPCErrorConvertible {
    public var jsonRPCError: JSONRPCError {
        switch code {
        case .connectionFailed, .connectionClosed, .poolTimeout, .shutDown:
            .unavailable("The database is not reachable")
        case .timeout:
            .unavailable("The database did not answer in time")
        default:
            .internalError
        }
    }
}
