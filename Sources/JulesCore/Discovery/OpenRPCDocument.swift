import Foundation
import JSONRPC

/// The API contract, `schema/openrpc.json`, embedded in the binary at build time and parsed once at start-up.
public struct OpenRPCDocument: Sendable {
    public let json: JSONValue

    /// Why the document could not be loaded.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The document built into this binary (`Resources/openrpc.json` links to `schema/openrpc.json`).
    public static func bundled() throws -> OpenRPCDocument {
        try OpenRPCDocument(data: Data(PackageResources.openrpc_json))
    }

    /// Parses a document and checks the members a client relies on.
    public init(data: Data) throws {
        let json: JSONValue
        do {
            json = try JSONParser.parse(data)
        } catch {
            throw LoadError(description: "openrpc.json is not valid JSON: \(error)")
        }
        guard case .string = json["openrpc"], case .array = json["methods"] else {
            throw LoadError(description: "openrpc.json has no openrpc version or no methods")
        }
        self.json = json
    }

    /// The names of the methods the document describes.
    public var methodNames: [String] {
        json["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted() ?? []
    }
}
