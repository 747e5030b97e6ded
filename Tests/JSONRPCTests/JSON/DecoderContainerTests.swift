import JSONRPC
import Testing

/// Exercises every container kind by hand, the way custom `init(from:)` implementations do.
struct Handwritten: Decodable, Equatable {
    var name: String
    var point: [Int]
    var inner: String
    var flags: [Bool]
    var parent: String
    var nilCount: Int

    enum Keys: String, CodingKey {
        case name, point, nested, list, base
    }

    enum InnerKeys: String, CodingKey {
        case inner
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        name = try container.decode(String.self, forKey: .name)
        var pointContainer = try container.nestedUnkeyedContainer(forKey: .point)
        var point: [Int] = []
        while !pointContainer.isAtEnd {
            point.append(try pointContainer.decode(Int.self))
        }
        self.point = point
        inner = try container.nestedContainer(keyedBy: InnerKeys.self, forKey: .nested).decode(
            String.self, forKey: .inner)
        var list = try container.nestedUnkeyedContainer(forKey: .list)
        var nilCount = 0
        var flags: [Bool] = []
        while !list.isAtEnd {
            if try list.decodeNil() {
                nilCount += 1
            } else if var nested = try? list.nestedUnkeyedContainer() {
                flags.append(try nested.decode(Bool.self))
            } else {
                flags.append(try list.decode(Bool.self))
            }
        }
        self.flags = flags
        self.nilCount = nilCount
        parent = try String(from: container.superDecoder(forKey: .base))
    }
}

struct DecoderContainerTests {
    let decoder = JSONValueDecoder()

    @Test func handwrittenDecodableUsesAllContainers() throws {
        let value = try JSONParser.parse(
            #"{"name":"n","point":[1,2],"nested":{"inner":"i"},"list":[true,null,[false],null],"base":"p"}"#
        )
        let decoded = try decoder.decode(Handwritten.self, from: value)
        #expect(decoded.name == "n")
        #expect(decoded.point == [1, 2])
        #expect(decoded.inner == "i")
        #expect(decoded.flags == [true, false])
        #expect(decoded.nilCount == 2)
        #expect(decoded.parent == "p")
    }

    @Test func keyedContainerQueries() throws {
        enum Keys: String, CodingKey { case a, b, c }
        struct Probe: Decodable {
            var keys: [String]
            var containsC: Bool
            var bIsNil: Bool
            var missingNilError: Bool
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: Keys.self)
                keys = container.allKeys.map(\.stringValue)
                containsC = container.contains(.c)
                bIsNil = try container.decodeNil(forKey: .b)
                do {
                    _ = try container.decodeNil(forKey: .c)
                    missingNilError = false
                } catch DecodingError.keyNotFound {
                    missingNilError = true
                }
            }
        }
        let probe = try decoder.decode(Probe.self, from: ["a": 1, "b": nil, "zz": 3, "a": 2] as JSONValue)
        #expect(probe.keys == ["a", "b"], "unknown keys are skipped and duplicates listed once")
        #expect(!probe.containsC)
        #expect(probe.bIsNil)
        #expect(probe.missingNilError)
    }

    @Test func unkeyedContainerPastEndIsRequired() throws {
        struct Pair: Decodable {
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                #expect(container.count == 1)
                _ = try container.decode(Int.self)
                #expect(container.currentIndex == 1)
                _ = try container.decode(Int.self)
            }
        }
        let error = try #require(try decodingFailure(Pair.self, "[1]"))
        guard case .valueNotFound(_, let context) = error else {
            Issue.record("expected valueNotFound, got \(error)")
            return
        }
        #expect(context.codingPath.map(\.intValue) == [1])
        #expect(JSONValueDecoder.describe(error) == ("[1]", "is required"))
    }

    @Test func failedElementDoesNotAdvance() throws {
        struct Lenient: Decodable {
            var values: [String] = []
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                while !container.isAtEnd {
                    if let number = try? container.decode(Int.self) {
                        values.append("i\(number)")
                    } else {
                        values.append(try container.decode(String.self))
                    }
                }
            }
        }
        #expect(try decoder.decode(Lenient.self, from: [1, "x", 2]).values == ["i1", "x", "i2"])
    }

    @Test func superDecoderMissingKeyDecodesNull() throws {
        struct Child: Decodable {
            var parentIsNull: Bool
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: JSONCodingKeyForTests.self)
                let parent = try container.superDecoder()
                parentIsNull = try parent.singleValueContainer().decodeNil()
                #expect(parent.codingPath.map(\.stringValue) == ["super"])
            }
        }
        #expect(try decoder.decode(Child.self, from: ["x": 1]).parentIsNull)
    }

    @Test func nestedContainerErrorsCarryThePath() throws {
        struct Outer: Decodable {
            enum Keys: String, CodingKey { case list }
            enum InnerKeys: String, CodingKey { case value }
            init(from decoder: any Decoder) throws {
                var list = try decoder.container(keyedBy: Keys.self).nestedUnkeyedContainer(forKey: .list)
                _ = try list.nestedContainer(keyedBy: InnerKeys.self)
                let second = try list.nestedContainer(keyedBy: InnerKeys.self)
                _ = try second.decode(Int.self, forKey: .value)
            }
        }
        let description = try #require(try describeFailure(Outer.self, #"{"list":[{},{"value":"x"}]}"#))
        #expect(description == ("list[1].value", "expected an integer, found a string"))
        let notObject = try #require(try describeFailure(Outer.self, #"{"list":[{},[]]}"#))
        #expect(notObject == ("list[1]", "expected an object, found an array"))
    }
}

struct JSONCodingKeyForTests: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
