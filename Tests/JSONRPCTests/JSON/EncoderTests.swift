import JSONRPC
import Testing

struct EncoderTests {
    let encoder = JSONValueEncoder()

    @Test func keysFollowEncodingOrderAndNilIsOmitted() throws {
        let message = ChatMessage(role: "user", body: "hi", tags: nil, score: 0.25)
        #expect(try encoder.encode(message).jsonString == #"{"role":"user","body":"hi","score":0.25}"#)
    }

    @Test func roundTripsThroughDecoder() throws {
        let request = ChatRequest(
            id: -3,
            messages: [ChatMessage(role: "a", body: "b\n\"c\"", tags: ["x"], score: nil)],
            options: .init(temperature: 0.7, stop: [], maxTokens: 65535),
            extra: ["n": .number("1.50"), "z": nil],
            matrix: [[1], []]
        )
        let value = try encoder.encode(request)
        #expect(value["extra"] == ["n": .number("1.50"), "z": nil], "JSONValue members are inserted as is")
        #expect(try JSONValueDecoder().decode(ChatRequest.self, from: value) == request)
        #expect(try JSONValueDecoder().decode(ChatRequest.self, from: JSONParser.parse(value.serialized)) == request)
    }

    @Test(arguments: [
        (3.0, "3.0"), (0.1, "0.1"), (-0.0, "-0.0"), (1e20, "1e+20"), (1e-7, "1e-07"), (123456.789, "123456.789"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (Double.leastNonzeroMagnitude, "5e-324"),
    ])
    func doublesUseShortestRoundTripText(_ double: Double, _ text: String) throws {
        let value = try encoder.encode(double)
        #expect(value == .number(text))
        #expect(try JSONParser.parse(value.serialized) == value, "the text is valid JSON")
        #expect(value.doubleValue == double)
    }

    @Test func floatsUseTheirOwnShortestText() throws {
        #expect(try encoder.encode(Float(0.1)) == .number("0.1"))
        #expect(try encoder.encode([Float(1.5)]) == [.number("1.5")])
    }

    @Test func integersUseDecimalText() throws {
        #expect(try encoder.encode(Int.min) == .number("-9223372036854775808"))
        #expect(try encoder.encode(UInt64.max) == .number("18446744073709551615"))
        #expect(try encoder.encode([Int8(-1)]) == [-1])
        #expect(try encoder.encode(["k": UInt16(7)]) == ["k": 7])
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteDoublesThrow(_ double: Double) throws {
        struct Box: Encodable {
            var list: [Double]
            var x: Double
        }
        for (value, path) in [(Box(list: [], x: double), ["x"]), (Box(list: [1, double], x: 0), ["list", "Index 1"])] {
            do {
                _ = try encoder.encode(value)
                Issue.record("expected an error for \(double)")
            } catch EncodingError.invalidValue(_, let context) {
                #expect(context.codingPath.map(\.stringValue) == path)
            }
        }
        #expect(throws: EncodingError.self) { try encoder.encode(double) }
        #expect(throws: EncodingError.self) { try encoder.encode(Float(double)) }
    }

    @Test func explicitNilIsEncodedAsNull() throws {
        struct Explicit: Encodable {
            var value: Int?
            enum CodingKeys: CodingKey { case value }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(value, forKey: .value)
            }
        }
        #expect(try encoder.encode(Explicit(value: nil)).jsonString == #"{"value":null}"#)
        #expect(try encoder.encode([Int?.none, 1]).jsonString == "[null,1]")
        #expect(try encoder.encode(Int?.none) == .null)
    }

    @Test func nestedContainersAndSuperEncoders() throws {
        struct Custom: Encodable {
            enum Keys: String, CodingKey { case a, list, nested, base }
            enum Inner: String, CodingKey { case x }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode("A", forKey: .a)
                var list = container.nestedUnkeyedContainer(forKey: .list)
                try list.encode(1)
                var inList = list.nestedContainer(keyedBy: Inner.self)
                var deeper = list.nestedUnkeyedContainer()
                try list.encodeNil()
                #expect(list.count == 4)
                try inList.encode(true, forKey: .x)
                try deeper.encode("d")
                try list.encode(["y": 2])
                try "up".encode(to: list.superEncoder())
                var nested = container.nestedContainer(keyedBy: Inner.self, forKey: .nested)
                try nested.encode(9, forKey: .x)
                try 5.encode(to: container.superEncoder(forKey: .base))
                try [7].encode(to: container.superEncoder())
                #expect(nested.codingPath.map(\.stringValue) == ["nested"])
            }
        }
        let expected = #"{"a":"A","list":[1,{"x":true},["d"],null,{"y":2},"up"],"nested":{"x":9},"base":5,"super":[7]}"#
        #expect(try encoder.encode(Custom()).jsonString == expected)
    }

    @Test func repeatedKeysReplaceInPlace() throws {
        struct Repeats: Encodable {
            var count: Int
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: JSONCodingKeyForTests.self)
                for index in 0..<count {
                    try container.encode(index, forKey: JSONCodingKeyForTests(stringValue: "k\(index)"))
                }
                try container.encode("first", forKey: JSONCodingKeyForTests(stringValue: "k0"))
                try container.encode("last", forKey: JSONCodingKeyForTests(stringValue: "k\(count - 1)"))
            }
        }
        // Small and large objects take different lookup paths.
        for count in [3, 40] {
            let object = try #require(try encoder.encode(Repeats(count: count)).objectValue)
            #expect(object.count == count)
            #expect(object.keys.first == "k0")
            #expect(object["k0"] == "first")
            #expect(object["k\(count - 1)"] == "last")
        }
    }

    @Test func emptyEncodings() throws {
        struct Nothing: Encodable {
            func encode(to encoder: any Encoder) throws {}
        }
        #expect(throws: EncodingError.self) { try encoder.encode(Nothing()) }
        #expect(try encoder.encode([Nothing()]) == [.object(JSONObject())], "nested empty encodings become {}")
        #expect(try encoder.encode([String: Int]()) == .object(JSONObject()))
        #expect(try encoder.encode([Int]()) == [])
    }

    @Test func sharedKeyedContainerAcrossCalls() throws {
        struct Twice: Encodable {
            func encode(to encoder: any Encoder) throws {
                var first = encoder.container(keyedBy: JSONCodingKeyForTests.self)
                try first.encode(1, forKey: .init(stringValue: "a"))
                var second = encoder.container(keyedBy: JSONCodingKeyForTests.self)
                try second.encode(2, forKey: .init(stringValue: "b"))
            }
        }
        #expect(try encoder.encode(Twice()).jsonString == #"{"a":1,"b":2}"#)
    }

    @Test func jsonValuePassesThrough() throws {
        let value: JSONValue = ["id": .number("12345678901234567890"), "x": [.number("1.50")]]
        #expect(try encoder.encode(value) == value)
        #expect(try encoder.encode(["wrapped": value]) == ["wrapped": value])
    }

    @Test func dictionariesAndUserInfo() throws {
        struct Probe: Encodable {
            func encode(to encoder: any Encoder) throws {
                var single = encoder.singleValueContainer()
                try single.encode(encoder.userInfo[CodingUserInfoKey(rawValue: "tag")!] as? String ?? "none")
            }
        }
        var custom = JSONValueEncoder()
        custom.userInfo[CodingUserInfoKey(rawValue: "tag")!] = "set"
        #expect(try custom.encode(Probe()) == "set")
        #expect(try encoder.encode(Probe()) == "none")
        #expect(try encoder.encode(["only": [true]]) == ["only": [true]])
    }
}
