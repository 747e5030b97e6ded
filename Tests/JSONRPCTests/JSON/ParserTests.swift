import JSONRPC
import Testing

/// Parses `text` and returns the error, or `nil` if it parsed.
func parseFailure(_ text: String, maxDepth: Int = 512) -> JSONParseError? {
    parseFailure(Array(text.utf8), maxDepth: maxDepth)
}

func parseFailure(_ bytes: [UInt8], maxDepth: Int = 512) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

struct ParserTests {
    @Test func parsesScalars() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("0") == .number("0"))
        #expect(try JSONParser.parse("\"hi\"") == .string("hi"))
        #expect(try JSONParser.parse(" \t\r\n 7 \t\r\n ") == .number("7"))
    }

    @Test func parsesContainers() throws {
        let value = try JSONParser.parse(#"{"a":[1,{"b":null},[]],"c":{}, "d" : [ true , false ] }"#)
        let expected: JSONValue = [
            "a": [1, ["b": nil], []],
            "c": .object(JSONObject()),
            "d": [true, false],
        ]
        #expect(value == expected)
        #expect(value["a"]?.arrayValue?.count == 3)
        #expect(value["c"]?.objectValue?.isEmpty == true)
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","method":"health.live","params":{"_meta":{"correlation_id":"abc-123"}},"id":42}"#,
        #"[1.50,-0,1e-7,1E+2,12345678901234567890,0.0e0,-1.25E-10]"#,
        #"{"z":1,"a":2,"m":{"y":[],"b":{}}}"#,
        #"{"dup":1,"dup":2}"#,
        #"["a/b","tab\there","quote\"back\\slash","nl\n","\u0001\u001f","é€😀"]"#,
        #""just a string""#,
        "[]",
        "{}",
        "null",
    ])
    func compactDocumentsRoundTripByteIdentical(_ text: String) throws {
        let value = try JSONParser.parse(text)
        #expect(value.jsonString == text)
        #expect(value.serialized == Array(text.utf8))
    }

    @Test func numbersKeepTheirText() throws {
        let value = try JSONParser.parse("[-0, 1e-7, 1E+2, 12345678901234567890, 1.50, 0.1]")
        #expect(
            value.arrayValue == [
                .number("-0"), .number("1e-7"), .number("1E+2"), .number("12345678901234567890"),
                .number("1.50"), .number("0.1"),
            ])
        let elements = try #require(value.arrayValue)
        #expect(elements[0].intValue == 0)
        #expect(elements[1].doubleValue == 1e-7)
        #expect(elements[1].intValue == nil)
        #expect(elements[2].doubleValue == 100)
        #expect(elements[2].intValue == nil, "exponent notation is not integer text")
        #expect(elements[3].intValue == nil, "does not fit in Int")
        #expect(elements[3].doubleValue == 12345678901234567890.0)
        #expect(elements[4].intValue == nil)
        #expect(elements[4].doubleValue == 1.5)
    }

    @Test func integerBoundaries() throws {
        #expect(JSONValue.number("9223372036854775807").intValue == Int.max)
        #expect(JSONValue.number("-9223372036854775808").intValue == Int.min)
        #expect(JSONValue.number("9223372036854775808").intValue == nil)
        #expect(JSONValue.number("-9223372036854775809").intValue == nil)
        #expect(JSONValue.number("1e400").doubleValue == nil)
        #expect(JSONValue.string("1").intValue == nil)
    }

    @Test func unicodeEscapes() throws {
        #expect(try JSONParser.parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""x\uD834\uDD1Ey""#) == .string("x𝄞y"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{c}\n\r\t"))
        #expect(try JSONParser.parse("\"é€😀 raw\"") == .string("é€😀 raw"))
        #expect(try JSONParser.parse(#""mixé\n😀\u00e9""#) == .string("mixé\n😀é"))
    }

    @Test func escapedKeysAndRepeatedEscapedStrings() throws {
        // The parser reuses one scratch buffer for escaped strings; consecutive ones must not bleed into each other.
        let value = try JSONParser.parse(#"{"k\u0031":"a\nb","k\u0032":"\tc","plain":"d"}"#)
        #expect(value == ["k1": "a\nb", "k2": "\tc", "plain": "d"])
    }

    typealias Rejection = (input: String, reason: JSONParseError.Reason, offset: Int)

    @Test(
        arguments: [
            ("", .unexpectedEnd, 0),
            ("   ", .unexpectedEnd, 3),
            ("[1,]", .unexpectedByte, 3),
            (#"{"a":1,}"#, .unexpectedByte, 7),
            ("[1 2]", .unexpectedByte, 3),
            (#"{"a" 1}"#, .unexpectedByte, 5),
            ("{a:1}", .unexpectedByte, 1),
            (#"{"a":1"#, .unexpectedEnd, 6),
            ("[", .unexpectedEnd, 1),
            ("// c\n1", .unexpectedByte, 0),
            ("/* c */ 1", .unexpectedByte, 0),
            ("[1] // c", .trailingData, 4),
            ("NaN", .unexpectedByte, 0),
            ("Infinity", .unexpectedByte, 0),
            ("-Infinity", .invalidNumber, 1),
            ("01", .invalidNumber, 1),
            ("-01", .invalidNumber, 2),
            ("+1", .unexpectedByte, 0),
            ("1.", .invalidNumber, 2),
            ("1.e5", .invalidNumber, 2),
            (".5", .unexpectedByte, 0),
            ("1e", .invalidNumber, 2),
            ("1e+", .invalidNumber, 3),
            ("-", .invalidNumber, 1),
            ("0x10", .trailingData, 1),
            ("1 2", .trailingData, 2),
            ("[1]]", .trailingData, 3),
            (#"{"a":1}x"#, .trailingData, 7),
            ("tru", .unexpectedEnd, 3),
            ("trUe", .unexpectedByte, 2),
            ("nul", .unexpectedEnd, 3),
            ("True", .unexpectedByte, 0),
            ("'a'", .unexpectedByte, 0),
            ("\"abc", .unexpectedEnd, 4),
            ("\"a\u{01}b\"", .controlCharacterInString, 2),
            ("\"a\tb\"", .controlCharacterInString, 2),
            ("\"a\nb\"", .controlCharacterInString, 2),
            (#""\x""#, .invalidEscape, 2),
            (#""\U0041""#, .invalidEscape, 2),
            (#""\u12G4""#, .invalidEscape, 5),
            (#""\u123""#, .invalidEscape, 6),
            (#""\uD800""#, .loneSurrogate, 1),
            (#""\uDC00""#, .loneSurrogate, 1),
            (#""\uD800\u0041""#, .loneSurrogate, 1),
            (#""\uD800\uD800""#, .loneSurrogate, 1),
            (#""\uD800x""#, .loneSurrogate, 1),
            ("[\"a\\", .unexpectedEnd, 4),
            ("\u{FEFF}1", .unexpectedByte, 0),
            ("[1,\u{00A0}2]", .unexpectedByte, 3),
        ] as [Rejection])
    func rejects(_ input: String, _ reason: JSONParseError.Reason, _ offset: Int) {
        let error = parseFailure(input)
        #expect(error == JSONParseError(offset: offset, reason: reason), "input: \(input)")
    }

    @Test(
        arguments: [
            ([0x22, 0xFF, 0x22], 1),
            ([0x22, 0x80, 0x22], 1),
            ([0x22, 0xC0, 0x80, 0x22], 1),
            ([0x22, 0xC1, 0xBF, 0x22], 1),
            ([0x22, 0x61, 0xC3, 0x22], 2),
            ([0x22, 0xE0, 0x80, 0x80, 0x22], 1),
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),
            ([0x22, 0xF0, 0x80, 0x80, 0x80, 0x22], 1),
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),
            ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1),
            ([0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22], 1),
            ([0x22, 0xE2, 0x28, 0xA1, 0x22], 1),
        ] as [([UInt8], Int)])
    func rejectsInvalidUTF8(_ bytes: [UInt8], _ offset: Int) {
        #expect(parseFailure(bytes) == JSONParseError(offset: offset, reason: .invalidUTF8))
    }

    @Test func truncatedUTF8AtEndIsUnexpectedEnd() {
        #expect(parseFailure([0x22, 0xE2, 0x82]) == JSONParseError(offset: 3, reason: .unexpectedEnd))
    }

    @Test func acceptsBoundaryUTF8() throws {
        let cases: [([UInt8], String)] = [
            ([0xC2, 0x80], "\u{80}"),
            ([0xDF, 0xBF], "\u{7FF}"),
            ([0xE0, 0xA0, 0x80], "\u{800}"),
            ([0xED, 0x9F, 0xBF], "\u{D7FF}"),
            ([0xEE, 0x80, 0x80], "\u{E000}"),
            ([0xEF, 0xBF, 0xBF], "\u{FFFF}"),
            ([0xF0, 0x90, 0x80, 0x80], "\u{10000}"),
            ([0xF4, 0x8F, 0xBF, 0xBF], "\u{10FFFF}"),
        ]
        for (bytes, expected) in cases {
            #expect(try JSONParser.parse([0x22] + bytes + [0x22]) == .string(expected))
        }
    }

    @Test func rawNonASCIIOutsideStringsIsRejected() {
        #expect(parseFailure([0xC3, 0xA9]) == JSONParseError(offset: 0, reason: .unexpectedByte))
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(parseFailure(ok) == nil)
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(parseFailure(deep) == JSONParseError(offset: 512, reason: .tooDeep))
        let objects = String(repeating: #"{"a":"#, count: 4) + "1" + String(repeating: "}", count: 4)
        #expect(parseFailure(objects, maxDepth: 4) == nil)
        #expect(parseFailure(objects, maxDepth: 3) == JSONParseError(offset: 15, reason: .tooDeep))
        #expect(parseFailure("1", maxDepth: 0) == nil)
        #expect(parseFailure("[]", maxDepth: 0) == JSONParseError(offset: 0, reason: .tooDeep))
        // Hostile input is cut off at the limit instead of exhausting the stack.
        let hostile = String(repeating: "[", count: 1_000_000)
        #expect(parseFailure(hostile) == JSONParseError(offset: 512, reason: .tooDeep))
    }

    @Test func duplicateKeysLastWins() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value["a"] == .number("3"))
        let object = try #require(value.objectValue)
        #expect(object.count == 3, "all pairs are kept for faithful re-serialization")
        #expect(object.keys == ["a", "b", "a"])
        #expect(value == ["b": 2, "a": 3])
        #expect(value.jsonString == #"{"a":1,"b":2,"a":3}"#)
    }

    @Test func inputOverloadsAgree() throws {
        let text = #"{"k":[1,"v"]}"#
        let bytes = Array(text.utf8)
        let expected: JSONValue = ["k": [1, "v"]]
        #expect(try JSONParser.parse(text) == expected)
        #expect(try JSONParser.parse(bytes) == expected)
        #expect(try JSONParser.parse(bytes[...]) == expected)
        #expect(try JSONParser.parse(text.utf8) == expected)
        #expect(try JSONParser.parse(bytes.lazy.map { $0 }) == expected, "non-contiguous collections are copied")
        let fromRaw = try bytes.withUnsafeBytes { raw throws(JSONParseError) in try JSONParser.parse(raw) }
        #expect(fromRaw == expected)
        let prefixed = Array("xx[1]".utf8)
        #expect(try JSONParser.parse(prefixed[2...]) == [1], "slices parse from their own start")
    }

    @Test func errorDescriptionNamesOffsetAndReason() {
        let error = JSONParseError(offset: 3, reason: .trailingData)
        #expect(error.description == "invalid JSON at byte 3: unexpected data after the JSON value")
        for reason in JSONParseError.Reason.allCases {
            #expect(!reason.message.isEmpty)
        }
    }
}
