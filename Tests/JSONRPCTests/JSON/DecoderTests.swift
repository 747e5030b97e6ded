import JSONRPC
import Testing

struct ChatMessage: Codable, Equatable {
    var role: String
    var body: String
    var tags: [String]?
    var score: Double?
}

struct ChatRequest: Codable, Equatable {
    struct Options: Codable, Equatable {
        var temperature: Double
        var stop: [String]?
        var maxTokens: UInt16?
    }

    var id: Int
    var messages: [ChatMessage]
    var options: Options?
    var extra: JSONValue?
    var matrix: [[Int]]?
}

/// Decodes `type` from JSON text and returns the `DecodingError`, or `nil` if decoding succeeded.
func decodingFailure<T: Decodable>(_ type: T.Type, _ text: String) throws -> DecodingError? {
    let value = try JSONParser.parse(text)
    do {
        _ = try JSONValueDecoder().decode(type, from: value)
        return nil
    } catch let error as DecodingError {
        return error
    }
}

func describeFailure<T: Decodable>(_ type: T.Type, _ text: String) throws -> (field: String, reason: String)? {
    try decodingFailure(type, text).map(JSONValueDecoder.describe)
}

struct DecoderTests {
    let decoder = JSONValueDecoder()

    @Test func decodesNestedStructures() throws {
        let text = #"""
            {"id":7,"messages":[{"role":"user","body":"hi","tags":["a","b"]},{"role":"bot","body":"yo","score":0.5}],
             "options":{"temperature":1e-1,"stop":null,"maxTokens":256},"extra":{"k":[1.50,null]},"matrix":[[1,2],[]]}
            """#
        let request = try decoder.decode(ChatRequest.self, from: JSONParser.parse(text))
        #expect(request.id == 7)
        #expect(
            request.messages == [
                ChatMessage(role: "user", body: "hi", tags: ["a", "b"], score: nil),
                ChatMessage(role: "bot", body: "yo", tags: nil, score: 0.5),
            ])
        #expect(request.options == ChatRequest.Options(temperature: 0.1, stop: nil, maxTokens: 256))
        #expect(request.extra == ["k": [.number("1.50"), nil]], "JSONValue members are taken as is")
        #expect(request.matrix == [[1, 2], []])
    }

    @Test func optionalsMissingOrNullAreNil() throws {
        let request = try decoder.decode(
            ChatRequest.self,
            from: JSONParser.parse(#"{"id":1,"messages":[],"options":null,"extra":null}"#)
        )
        #expect(request.options == nil)
        #expect(request.extra == nil, "null decodes as nil for Optional<JSONValue>, as with Foundation")
        #expect(request.matrix == nil)
    }

    @Test func wrongTypeNamesTheField() throws {
        let text =
            #"{"id":1,"messages":[{"role":"a","body":"b"},{"role":"a","body":"b"},{"role":"a","body":"b"},"#
            + #"{"role":"a","body":5}]}"#
        let error = try #require(try decodingFailure(ChatRequest.self, text))
        guard case .typeMismatch(let type, let context) = error else {
            Issue.record("expected typeMismatch, got \(error)")
            return
        }
        #expect(ObjectIdentifier(type) == ObjectIdentifier(String.self))
        #expect(context.codingPath.map(\.stringValue) == ["messages", "Index 3", "body"])
        #expect(context.codingPath[1].intValue == 3)
        let description = JSONValueDecoder.describe(error)
        #expect(description.field == "messages[3].body")
        #expect(description.reason == "expected a string, found a number")
    }

    @Test func missingKeyIsRequired() throws {
        let error = try #require(try decodingFailure(ChatRequest.self, #"{"id":1,"messages":[{"body":"b"}]}"#))
        guard case .keyNotFound(let key, let context) = error else {
            Issue.record("expected keyNotFound, got \(error)")
            return
        }
        #expect(key.stringValue == "role")
        #expect(context.codingPath.map(\.stringValue) == ["messages", "Index 0"])
        #expect(JSONValueDecoder.describe(error) == ("messages[0].role", "is required"))
    }

    @Test func nullForRequiredValue() throws {
        let error = try #require(
            try decodingFailure(ChatRequest.self, #"{"id":1,"messages":[{"role":"r","body":null}]}"#))
        guard case .valueNotFound(let type, let context) = error else {
            Issue.record("expected valueNotFound, got \(error)")
            return
        }
        #expect(ObjectIdentifier(type) == ObjectIdentifier(String.self))
        #expect(context.codingPath.map(\.stringValue) == ["messages", "Index 0", "body"])
        #expect(JSONValueDecoder.describe(error) == ("messages[0].body", "must not be null"))
    }

    @Test(arguments: [
        (#"{"id":1.5,"messages":[]}"#, "id", "expected an integer, found 1.5"),
        (#"{"id":1e3,"messages":[]}"#, "id", "expected an integer, found 1e3"),
        (#"{"id":1.0,"messages":[]}"#, "id", "expected an integer, found 1.0"),
        (#"{"id":"7","messages":[]}"#, "id", "expected an integer, found a string"),
        (#"{"id":null,"messages":[]}"#, "id", "must not be null"),
        (#"{"id":1}"#, "messages", "is required"),
        (#"{"id":1,"messages":{}}"#, "messages", "expected an array, found an object"),
        (#"{"id":1,"messages":null}"#, "messages", "must not be null"),
        (#"{"id":1,"messages":[7]}"#, "messages[0]", "expected an object, found a number"),
        (
            #"{"id":1,"messages":[],"options":{"temperature":"hot"}}"#, "options.temperature",
            "expected a number, found a string"
        ),
        (
            #"{"id":1,"messages":[],"options":{"temperature":1,"maxTokens":70000}}"#, "options.maxTokens",
            "must be an integer between 0 and 65535"
        ),
        (
            #"{"id":1,"messages":[],"options":{"temperature":1,"maxTokens":-1}}"#, "options.maxTokens",
            "must be an integer between 0 and 65535"
        ),
        (
            #"{"id":1,"messages":[],"options":{"temperature":1e999}}"#, "options.temperature",
            "is out of range for Double"
        ),
        (
            #"{"id":1,"messages":[],"options":{"temperature":1,"stop":[1]}}"#, "options.stop[0]",
            "expected a string, found a number"
        ),
        (#"{"id":1,"messages":[],"matrix":[[1],[2,true]]}"#, "matrix[1][1]", "expected an integer, found a boolean"),
        (
            #"{"id":99999999999999999999,"messages":[]}"#, "id",
            "must be an integer between -9223372036854775808 and 9223372036854775807"
        ),
        ("[]", "", "expected an object, found an array"),
        ("null", "", "must not be null"),
    ])
    func describesErrors(_ text: String, _ field: String, _ reason: String) throws {
        let description = try #require(try describeFailure(ChatRequest.self, text))
        #expect(description.field == field)
        #expect(description.reason == reason)
    }

    @Test func integerTypesAreStrict() throws {
        #expect(try decoder.decode(Int8.self, from: 127) == 127)
        #expect(try decoder.decode(Int8.self, from: -128) == -128)
        #expect(try decoder.decode(UInt64.self, from: .number("18446744073709551615")) == .max)
        #expect(try decoder.decode(Int64.self, from: .number("-9223372036854775808")) == .min)
        #expect(try decoder.decode(Int.self, from: .number("-0")) == 0)
        #expect(throws: DecodingError.self) { try decoder.decode(Int8.self, from: 128) }
        #expect(throws: DecodingError.self) { try decoder.decode(UInt.self, from: -1) }
        #expect(throws: DecodingError.self) { try decoder.decode(Int.self, from: 1.5) }
        #expect(throws: DecodingError.self) { try decoder.decode(Int.self, from: .number("1e3")) }
        #expect(throws: DecodingError.self) { try decoder.decode(UInt32.self, from: "1") }
        #expect(throws: DecodingError.self) { try decoder.decode(Int16.self, from: true) }
    }

    @Test func floatingPointAcceptsAnyNumber() throws {
        #expect(try decoder.decode(Double.self, from: .number("1e3")) == 1000)
        #expect(try decoder.decode(Double.self, from: .number("-0")) == 0)
        #expect(try decoder.decode(Double.self, from: 3) == 3)
        #expect(try decoder.decode(Float.self, from: .number("0.1")) == Float(0.1))
        #expect(throws: DecodingError.self) { try decoder.decode(Float.self, from: .number("1e39")) }
        #expect(throws: DecodingError.self) { try decoder.decode(Double.self, from: "1") }
    }

    @Test func topLevelPrimitivesAndCollections() throws {
        #expect(try decoder.decode(String.self, from: "x") == "x")
        #expect(try decoder.decode(Bool.self, from: false) == false)
        #expect(try decoder.decode([Int].self, from: [1, 2]) == [1, 2])
        #expect(try decoder.decode([String: Int].self, from: ["a": 1, "b": 2]) == ["a": 1, "b": 2])
        #expect(try decoder.decode([Int: String].self, from: ["1": "x"]) == [1: "x"])
        #expect(try decoder.decode(Int?.self, from: nil) == nil)
        #expect(try decoder.decode([Int?].self, from: [1, nil]) == [1, nil])
        #expect(try decoder.decode([String: [Bool]].self, from: ["k": [true]]) == ["k": [true]])
    }

    @Test func jsonValueDecodesDirectly() throws {
        let value: JSONValue = ["n": .number("1.50"), "big": .number("12345678901234567890"), "a": [nil, "x"]]
        #expect(try decoder.decode(JSONValue.self, from: value) == value)
        #expect(try decoder.decode([String: JSONValue].self, from: value)["n"] == .number("1.50"))
        #expect(try decoder.decode(JSONValue?.self, from: nil) == nil)
    }

    @Test func rawRepresentableEnumsAndNestedOptionals() throws {
        enum Role: String, Codable { case user, bot }
        struct Wrapper: Codable {
            var role: Role
            var maybe: Int??
        }
        let wrapper = try decoder.decode(Wrapper.self, from: ["role": "bot"])
        #expect(wrapper.role == .bot)
        let error = try #require(try decodingFailure(Wrapper.self, #"{"role":"admin"}"#))
        guard case .dataCorrupted(let context) = error else {
            Issue.record("expected dataCorrupted, got \(error)")
            return
        }
        #expect(context.codingPath.map(\.stringValue) == ["role"])
        #expect(JSONValueDecoder.describe(error).field == "role")
    }

    @Test func userInfoReachesDecodable() throws {
        struct Probe: Decodable {
            var flag: Bool
            init(from decoder: any Decoder) throws {
                flag = decoder.userInfo[CodingUserInfoKey(rawValue: "flag")!] as? Bool ?? false
            }
        }
        var custom = JSONValueDecoder()
        custom.userInfo[CodingUserInfoKey(rawValue: "flag")!] = true
        #expect(try custom.decode(Probe.self, from: nil).flag)
        #expect(try decoder.decode(Probe.self, from: nil).flag == false)
    }
}
