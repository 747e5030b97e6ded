import JSONRPC
import Testing

struct ValueTests {
    @Test func accessors() {
        let value: JSONValue = ["s": "x", "i": 3, "d": 2.5, "b": true, "a": [1], "o": ["k": nil], "n": nil]
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["i"]?.doubleValue == 3)
        #expect(value["d"]?.doubleValue == 2.5)
        #expect(value["d"]?.intValue == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["o"]?.objectValue?["k"] == .null)
        #expect(value["n"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(JSONValue.string("x")["s"] == nil, "subscript on a non-object is nil")
        #expect(JSONValue.number("1").stringValue == nil)
        #expect(JSONValue.string("true").boolValue == nil)
        #expect(JSONValue.null.arrayValue == nil)
        #expect(JSONValue.null.objectValue == nil)
        #expect(!JSONValue.bool(false).isNull)
    }

    @Test func literalsAndInitializers() {
        #expect(JSONValue(42) == .number("42"))
        #expect(JSONValue(-7) == .number("-7"))
        #expect(JSONValue(2.5) == .number("2.5"))
        #expect(JSONValue(3.0) == .number("3.0"))
        #expect(JSONValue(1e20) == .number("1e+20"))
        #expect(JSONValue(1e-7) == .number("1e-07"))
        #expect(1.5 as JSONValue == .number("1.5"))
        #expect(nil as JSONValue == .null)
        #expect(false as JSONValue == .bool(false))
        #expect("s" as JSONValue == .string("s"))
        #expect([1, "a"] as JSONValue == .array([.number("1"), .string("a")]))
        #expect(["k": 1] as JSONValue == .object(JSONObject([("k", .number("1"))])))
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteDoublesBecomeNull(_ double: Double) {
        #expect(JSONValue(double) == .null)
    }

    @Test func numberTextValidation() {
        #expect(JSONValue(numberText: "1.50") == .number("1.50"))
        #expect(JSONValue(numberText: "-0") == .number("-0"))
        #expect(JSONValue(numberText: "1e5") == .number("1e5"))
        for bad in ["", "01", "+1", "1.", ".5", "NaN", "1e", "--1", "1 ", "0x1"] {
            #expect(JSONValue(numberText: bad) == nil, "\(bad)")
        }
    }

    @Test func numbersCompareByText() {
        #expect(JSONValue.number("1") != .number("1.0"))
        #expect(JSONValue.number("1.50") == .number("1.50"))
    }

    @Test func kindDescriptions() {
        let kinds: [JSONValue] = [nil, true, 1, "s", [], .object(JSONObject())]
        #expect(kinds.map(\.kindDescription) == ["null", "a boolean", "a number", "a string", "an array", "an object"])
    }

    @Test func descriptionIsCompactJSON() {
        let value: JSONValue = ["a": [1, "x"]]
        #expect(value.description == #"{"a":[1,"x"]}"#)
        #expect("\(value.objectValue!)" == #"{"a":[1,"x"]}"#)
    }
}
