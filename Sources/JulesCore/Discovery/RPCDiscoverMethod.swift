import JSONRPC

/// `rpc.discover`: the OpenRPC document of the API, as kept in `schema/openrpc.json`.
public struct RPCDiscoverMethod: SynchronousJSONRPCMethod {
    public static let name = "rpc.discover"
    public typealias Result = JSONValue

    private let document: JSONValue

    public init(document: OpenRPCDocument) {
        self.document = document.json
    }

    public func handleNow(_ params: NoParams, context: RequestContext) -> JSONValue {
        document
    }
}
