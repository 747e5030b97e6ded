import JSONRPC

/// A household's conversation state at one version.
public struct ConversationState: Sendable, Equatable {
    /// The state object; `nil` when there is none (never set, or deleted).
    public var state: JSONValue?
    /// Starts at 0 (no state yet) and increases with every update or delete.
    public var version: Int64

    public init(state: JSONValue?, version: Int64) {
        self.state = state
        self.version = version
    }

    /// The state as it is stored in Redis: compact JSON, or the empty string for none.
    var storedText: String {
        state.map(\.jsonString) ?? ""
    }

    /// Reads the stored form back.
    /// - Throws: ``StoredDataError`` when the stored text is not JSON.
    init(storedText: [UInt8], version: Int64) throws(StoredDataError) {
        self.version = version
        if storedText.isEmpty {
            state = nil
        } else {
            do {
                state = try JSONParser.parse(storedText)
            } catch {
                throw StoredDataError(reason: "a cached conversation state is not valid JSON")
            }
        }
    }
}
