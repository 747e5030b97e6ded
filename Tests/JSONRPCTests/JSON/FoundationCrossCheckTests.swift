import Foundation
import JSONRPC
import Testing

/// Compares results with Foundation, which is allowed in tests only.
struct FoundationCrossCheckTests {
    static let documents: [String] = [
        #"{"jsonrpc":"2.0","method":"health.live","params":{"_meta":{"correlation_id":"abc-123"}},"id":42}"#,
        #"[1,-2,3.5,-0.25,1e3,2E-2,0,-0,123456789012]"#,
        #"{"nested":{"a":[{"b":[[],{}]}]},"unicode":"é€😀\u00e9\ud83d\ude00","esc":"\"\\\/\b\f\n\r\t"}"#,
        #"  [ true , false , null , "x" ]  "#,
        #""top-level string""#,
        "17",
        #"{"":"","a b":"c d","\u0000":"nul"}"#,
        #"[[[[[[[[[[["deep"]]]]]]]]]]]"#,
    ]

    @Test(arguments: documents)
    func parsesLikeJSONSerialization(_ text: String) throws {
        let ours = try JSONParser.parse(text)
        let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        #expect(matches(theirs, ours), "\(text)")
        // Our output must be understood by Foundation too.
        let reparsed = try JSONSerialization.jsonObject(with: Data(ours.serialized), options: [.fragmentsAllowed])
        #expect(matches(reparsed, ours))
    }

    @Test(arguments: [
        "01", "NaN", "[1 2]", "\"\u{1}\"", "{a:1}", "[", "1 2", "'x'", "\"\\x\"",
    ])
    func rejectsWhatJSONSerializationRejects(_ text: String) {
        #expect(parseFailure(text) != nil)
        #expect(throws: (any Error).self) {
            try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        }
    }

    @Test(arguments: ["[1,]", #"{"a":1,}"#])
    func isStricterThanJSONSerializationAboutTrailingCommas(_ text: String) throws {
        // Foundation tolerates trailing commas; RFC 8259 does not, and neither do we.
        #expect(parseFailure(text)?.reason == .unexpectedByte)
        _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func randomTreesSerializeToJSONFoundationAccepts() throws {
        var random = RandomJSON(generator: SplitMix64(state: 99))
        for _ in 0..<200 {
            let value = random.value()
            // Foundation rejects numbers beyond Double's range, which JSON itself allows.
            guard allNumbersFinite(value) else { continue }
            let theirs = try JSONSerialization.jsonObject(with: Data(value.serialized), options: [.fragmentsAllowed])
            #expect(matches(theirs, value), "\(value)")
        }
    }

    @Test func jsonValueCodableWithFoundationCoders() throws {
        let text = #"{"a":[1,true,null,"x",{"b":2.5}],"big":12345678901234567890,"neg":-5}"#
        let viaFoundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(viaFoundation == (try JSONParser.parse(text)))
        let encoded = try JSONEncoder().encode(viaFoundation)
        #expect(try JSONParser.parse(Array(encoded)) == viaFoundation)
    }

    @Test func decodingErrorPathsMatchFoundation() throws {
        let documents = [
            #"{"id":1,"messages":[{"role":"a","body":"b"},{"role":"a","body":5}]}"#,
            #"{"id":1,"messages":[{"body":"b"}]}"#,
            #"{"id":1,"messages":[{"role":"r","body":null}]}"#,
            #"{"id":"1","messages":[]}"#,
            #"{"id":1,"messages":[],"options":{"temperature":1,"stop":[1]}}"#,
        ]
        for text in documents {
            let ours = try #require(try decodingFailure(ChatRequest.self, text))
            var theirs: DecodingError?
            do {
                _ = try JSONDecoder().decode(ChatRequest.self, from: Data(text.utf8))
            } catch let error as DecodingError {
                theirs = error
            }
            let foundationError = try #require(theirs)
            #expect(
                JSONValueDecoder.describe(ours).field == JSONValueDecoder.describe(foundationError).field, "\(text)")
            #expect(kind(ours) == kind(foundationError), "\(text)")
        }
    }

    @Test func describeHandlesFoundationMessages() throws {
        let text = #"{"id":1,"messages":[{"role":"a","body":5}]}"#
        do {
            _ = try JSONDecoder().decode(ChatRequest.self, from: Data(text.utf8))
            Issue.record("expected an error")
        } catch let error as DecodingError {
            let description = JSONValueDecoder.describe(error)
            #expect(description.field == "messages[0].body")
            #expect(description.reason.hasPrefix("expected a string"))
        }
    }

    private func kind(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound: "keyNotFound"
        case .valueNotFound: "valueNotFound"
        case .typeMismatch: "typeMismatch"
        case .dataCorrupted: "dataCorrupted"
        @unknown default: "unknown"
        }
    }
}

/// Whether a JSONSerialization result denotes the same JSON as `value` (numbers compared as doubles).
func matches(_ object: Any, _ value: JSONValue) -> Bool {
    switch value {
    case .null:
        return object is NSNull
    case .bool(let flag):
        guard let number = object as? NSNumber else { return false }
        return number.boolValue == flag
    case .number(let text):
        guard let number = object as? NSNumber, let expected = Double(text) else { return false }
        let actual = number.doubleValue
        if expected.isInfinite { return actual.isInfinite || actual.magnitude > 1e300 }
        return actual == expected || abs(actual - expected) <= abs(expected) * 1e-12
    case .string(let string):
        return (object as? String) == string
    case .array(let elements):
        guard let array = object as? [Any], array.count == elements.count else { return false }
        return zip(array, elements).allSatisfy { matches($0, $1) }
    case .object(let members):
        guard let dictionary = object as? [String: Any] else { return false }
        let expected = members.dictionary
        guard dictionary.count == expected.count else { return false }
        return expected.allSatisfy { key, member in dictionary[key].map { matches($0, member) } ?? false }
    }
}

func allNumbersFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .number(let text): Double(text)?.isFinite ?? false
    case .array(let elements): elements.allSatisfy(allNumbersFinite)
    case .object(let object): object.values.allSatisfy(allNumbersFinite)
    default: true
    }
}
