import JSONRPC
import Testing

struct SerializerTests {
    @Test func escapesMinimally() {
        let value = JSONValue.string("q\" b\\ s/ é😀 \u{7F}")
        #expect(value.jsonString == #""q\" b\\ s/ é😀 \#u{7F}""#)
    }

    @Test func escapesEveryControlCharacter() throws {
        let controls = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        let text = JSONValue.string(controls).jsonString
        let expected =
            #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
            + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f""#
        #expect(text == expected)
        #expect(try JSONParser.parse(text) == .string(controls))
    }

    @Test func writesCompactOutput() {
        let value: JSONValue = ["a": [1, 2.5, nil, true, false, "x"], "b": ["c": [:] as JSONValue], "d": []]
        #expect(value.jsonString == #"{"a":[1,2.5,null,true,false,"x"],"b":{"c":{}},"d":[]}"#)
    }

    @Test func appendsToExistingBytes() {
        var bytes = Array("prefix:".utf8)
        JSONValue.array([1, "two"]).serialize(into: &bytes)
        JSONValue.null.serialize(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:[1,"two"]null"#)
    }

    @Test func serializedFormsAgree() {
        let value: JSONValue = ["k": "v\n", "n": [1, ["x": "é"]]]
        var appended: [UInt8] = []
        value.serialize(into: &appended)
        #expect(appended == value.serialized)
        #expect(String(decoding: appended, as: UTF8.self) == value.jsonString)
    }

    @Test func longStringsWithScatteredEscapes() throws {
        var text = ""
        for index in 0..<2_000 {
            text += index % 97 == 0 ? "\"\n\u{1}" : "abcé"
        }
        let value = JSONValue.string(text)
        #expect(try JSONParser.parse(value.serialized) == value)
    }

    @Test func emptyNumberTextWritesNothing() {
        // `.number` text is trusted; this only checks that degenerate input does not crash.
        #expect(JSONValue.number("").serialized.isEmpty)
        #expect(JSONValue.number("").jsonString == "")
    }
}
