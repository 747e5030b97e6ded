import JSONRPC
import Testing

@testable import JulesCore

/// Combining merges made around an unreachable Redis with the journal's newest state.
@Suite struct ThreeWayMergeTests {
    /// (base, ours, theirs, expected); `nil` is no state at all.
    static let cases: [(String?, String?, String?, String?)] = [
        // Each side changed different members: both kept.
        (#"{"a":1}"#, #"{"a":1,"b":2}"#, #"{"a":1,"c":3}"#, #"{"a":1,"b":2,"c":3}"#),
        // Nothing before the outage in PostgreSQL: the journal's members and ours together.
        (nil, #"{"b":2}"#, #"{"a":1}"#, #"{"a":1,"b":2}"#),
        // Both changed one member: ours (the later write) wins.
        (#"{"a":1}"#, #"{"a":2}"#, #"{"a":3}"#, #"{"a":2}"#),
        // Only theirs changed it.
        (#"{"a":1,"b":1}"#, #"{"a":1,"b":2}"#, #"{"a":5,"b":1}"#, #"{"a":5,"b":2}"#),
        // Ours removed a member theirs did not touch; theirs removed one ours did not touch.
        (#"{"a":1,"b":1,"c":1}"#, #"{"b":1,"c":1}"#, #"{"a":1,"b":1}"#, #"{"b":1}"#),
        // Ours removed a member theirs changed: the later removal wins.
        (#"{"a":1}"#, #"{}"#, #"{"a":2}"#, #"{}"#),
        // Nested objects merge member by member.
        (
            #"{"o":{"x":1,"y":1}}"#, #"{"o":{"x":2,"y":1}}"#, #"{"o":{"x":1,"y":2,"z":3}}"#,
            #"{"o":{"x":2,"y":2,"z":3}}"#
        ),
        // Arrays are values: changed on both sides, ours wins.
        (#"{"l":[1]}"#, #"{"l":[1,2]}"#, #"{"l":[1,3]}"#, #"{"l":[1,2]}"#),
        // A null member is a value, not a removal.
        (#"{"a":1}"#, #"{"a":1,"n":null}"#, #"{"a":2}"#, #"{"a":2,"n":null}"#),
        (#"{"a":1,"n":null}"#, #"{"a":1,"n":null}"#, #"{"a":1}"#, #"{"a":1}"#),
        // The journal deleted the state, ours then merged into nothing: ours stands.
        (#"{"a":1}"#, #"{"a":1,"b":2}"#, nil, #"{"a":1,"b":2}"#),
        // Identical changes, or no change on one side.
        (#"{"a":1}"#, #"{"a":2}"#, #"{"a":2}"#, #"{"a":2}"#),
        (#"{"a":1}"#, #"{"a":1}"#, #"{"a":9}"#, #"{"a":9}"#),
        // Member order does not count as a change.
        (#"{"a":1,"b":2}"#, #"{"b":2,"a":1,"c":3}"#, #"{"b":2,"a":1}"#, #"{"b":2,"a":1,"c":3}"#),
    ]

    @Test(arguments: 0..<cases.count)
    func combines(_ index: Int) throws {
        let (base, ours, theirs, expected) = Self.cases[index]
        func parse(_ text: String?) throws -> JSONValue? { try text.map { try JSONParser.parse($0) } }
        let merged = ThreeWayMerge.merge(base: try parse(base), ours: try parse(ours), theirs: try parse(theirs))
        #expect(merged == (try parse(expected)))
    }
}
