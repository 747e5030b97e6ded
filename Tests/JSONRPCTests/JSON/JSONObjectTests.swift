import JSONRPC
import Testing

struct JSONObjectTests {
    @Test func keepsInsertionOrder() {
        var object = JSONObject()
        object["z"] = 1
        object["a"] = 2
        object["m"] = 3
        #expect(object.keys == ["z", "a", "m"])
        #expect(object.values == [1, 2, 3])
        #expect(object.map(\.key) == ["z", "a", "m"])
        #expect(JSONValue.object(object).jsonString == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test func setterReplacesInPlaceAndRemoves() {
        var object = JSONObject([("a", 1), ("b", 2), ("a", 3), ("c", 4)])
        #expect(object["a"] == 3)
        object["a"] = "new"
        #expect(object.keys == ["a", "b", "c"], "the first position is kept and later duplicates dropped")
        #expect(object["a"] == "new")
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        object["missing"] = nil
        #expect(object.count == 2)
        object.append(key: "a", value: 9)
        #expect(object.count == 3)
        #expect(object["a"] == 9)
    }

    @Test func equalityIgnoresOrder() {
        let first = JSONObject([("a", 1), ("b", [true])])
        let second = JSONObject([("b", [true]), ("a", 1)])
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(JSONValue.object(first) == .object(second))
        #expect(Set([JSONValue.object(first), .object(second)]).count == 1)
        #expect(first != JSONObject([("a", 1)]))
        #expect(first != JSONObject([("a", 2), ("b", [true])]))
        #expect(first != JSONObject([("a", 1), ("c", [true])]))
    }

    @Test func equalityUsesLastDuplicate() {
        let duplicated = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        #expect(duplicated == JSONObject([("b", 2), ("a", 3)]))
        #expect(duplicated != JSONObject([("a", 1), ("b", 2)]))
        #expect(duplicated.hashValue == JSONObject([("b", 2), ("a", 3)]).hashValue)
        #expect(duplicated.dictionary == ["a": 3, "b": 2])
    }

    @Test func dictionaryLiteral() {
        let object: JSONObject = ["x": 1, "y": nil]
        #expect(object.count == 2)
        #expect(object["y"] == .null)
        #expect(object["z"] == nil)
    }
}
