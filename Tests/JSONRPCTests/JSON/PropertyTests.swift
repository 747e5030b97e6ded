import JSONRPC
import Testing

/// A small deterministic generator so that failures reproduce from the printed seed.
/// A small deterministic generator, so a failing random case (a tree, a chunking) can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// Builds random JSON values covering escapes, non-ASCII text, number grammar variants and duplicate keys.
struct RandomJSON {
    var generator: SplitMix64

    private static let alphabet: [Character] = [
        "a", "b", "z", "0", " ", "/", "\"", "\\", "\n", "\t", "\r", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "€",
        "😀", "𝄞", "\u{2028}", "ß", "中",
    ]

    mutating func value(depth: Int = 0) -> JSONValue {
        let choice = depth >= 4 ? Int.random(in: 0..<4, using: &generator) : Int.random(in: 0..<6, using: &generator)
        switch choice {
        case 0: return Bool.random(using: &generator) ? .null : .bool(Bool.random(using: &generator))
        case 1: return .number(number())
        case 2, 3: return .string(string())
        case 4:
            return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in value(depth: depth + 1) })
        default:
            var pairs: [(String, JSONValue)] = []
            for _ in 0..<Int.random(in: 0..<5, using: &generator) {
                // Short keys collide now and then, exercising duplicate handling.
                let key = Bool.random(using: &generator) ? string() : String(Int.random(in: 0..<3, using: &generator))
                pairs.append((key, value(depth: depth + 1)))
            }
            return .object(JSONObject(pairs))
        }
    }

    mutating func string() -> String {
        String(
            (0..<Int.random(in: 0..<12, using: &generator)).map { _ in Self.alphabet.randomElement(using: &generator)! }
        )
    }

    mutating func number() -> String {
        var text = Bool.random(using: &generator) ? "-" : ""
        if Int.random(in: 0..<4, using: &generator) == 0 {
            text += "0"
        } else {
            text += String(Int.random(in: 1...9, using: &generator))
            text += digits(Int.random(in: 0..<22, using: &generator))
        }
        if Bool.random(using: &generator) { text += "." + digits(Int.random(in: 1..<6, using: &generator)) }
        if Bool.random(using: &generator) {
            text += ["e", "E"].randomElement(using: &generator)!
            text += ["", "+", "-"].randomElement(using: &generator)!
            text += digits(Int.random(in: 1..<4, using: &generator))
        }
        return text
    }

    private mutating func digits(_ count: Int) -> String {
        String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
    }
}

struct PropertyTests {
    @Test(arguments: [1, 2, 3, 4])
    func parseInvertsSerialize(seed: UInt64) throws {
        var random = RandomJSON(generator: SplitMix64(state: seed))
        for iteration in 0..<100 {
            let value = random.value()
            let bytes = value.serialized
            let reparsed = try JSONParser.parse(bytes)
            #expect(reparsed == value, "seed \(seed) iteration \(iteration): \(value)")
            #expect(reparsed.serialized == bytes, "serialization is byte-stable")
            #expect(reparsed.hashValue == value.hashValue)
            #expect(JSONValue(numberText: random.number()) != nil, "generated numbers follow the grammar")
        }
    }

    @Test(arguments: [5, 6])
    func encoderAndDecoderInvertEachOther(seed: UInt64) throws {
        var random = RandomJSON(generator: SplitMix64(state: seed))
        for _ in 0..<100 {
            let value = random.value()
            #expect(try JSONValueDecoder().decode(JSONValue.self, from: value) == value)
            #expect(try JSONValueEncoder().encode(value) == value)
        }
    }

    @Test(arguments: [7, 8])
    func truncatedDocumentsNeverParse(seed: UInt64) throws {
        var random = RandomJSON(generator: SplitMix64(state: seed))
        for _ in 0..<100 {
            let bytes = random.value().serialized
            guard bytes.count > 1, bytes.first == UInt8(ascii: "[") || bytes.first == UInt8(ascii: "{") else {
                continue
            }
            // Every proper prefix of a container is incomplete, so it must be rejected (and never crash).
            for length in 0..<bytes.count {
                #expect(parseFailure(Array(bytes[..<length])) != nil)
            }
        }
    }
}
