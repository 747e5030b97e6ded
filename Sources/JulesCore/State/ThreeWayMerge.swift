import JSONRPC

/// Combines two lines of changes made independently from one base: member by member through objects, and where
/// both changed the same value differently, `ours` wins.
///
/// Used when Redis answers again after an outage: `base` is the state the first write around the cache started
/// from (or the cached copy an earlier rebase combined them with), `ours` what the writes around the cache made of
/// it, `theirs` the newest state the journal held (updates acknowledged before the outage that PostgreSQL had not
/// stored yet, or since the earlier rebase). An absent member (`nil`) is distinct from a
/// member whose value is `null`, so both are kept as written.
enum ThreeWayMerge {
    static func merge(base: JSONValue?, ours: JSONValue?, theirs: JSONValue?) -> JSONValue? {
        if ours == theirs || theirs == base { return ours }
        if ours == base { return theirs }
        guard case .object(let ourMembers)? = ours, case .object(let theirMembers)? = theirs else {
            // Changed differently on both sides and not both objects: the later change, ours, wins.
            return ours
        }
        var baseMembers = JSONObject()
        if case .object(let members)? = base { baseMembers = members }
        var merged = JSONObject()
        var seen = Set<String>()
        for key in ourMembers.keys + theirMembers.keys where seen.insert(key).inserted {
            if let value = merge(base: baseMembers[key], ours: ourMembers[key], theirs: theirMembers[key]) {
                merged[key] = value
            }
        }
        return .object(merged)
    }
}
