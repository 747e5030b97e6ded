import JSONRPC

/// JSON Merge Patch (RFC 7396): how `state.update` with `mode: "merge"` combines a patch with the current state.
public enum JSONMergePatch {
    /// Applies `patch` to `target`: an object patch merges member by member (a `null` member removes the member,
    /// nested objects merge recursively); any other patch replaces the target.
    public static func apply(_ patch: JSONValue, to target: JSONValue?) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result: JSONObject
        if case .object(let members)? = target { result = members } else { result = JSONObject() }
        for (key, value) in patchMembers {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key])
            }
        }
        return .object(result)
    }
}
