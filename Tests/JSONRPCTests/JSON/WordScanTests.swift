import JSONRPC
import Testing

/// The parser and the writer test eight bytes at a time; special bytes must be found at every offset within and
/// across words, including in short strings and tails.
struct WordScanTests {
    static let specials: [(String, String)] = [
        ("\"", #"\""#), ("\\", #"\\"#), ("\n", #"\n"#), ("\u{1}", #"\u0001"#), ("\u{1F}", #"\u001f"#),
        ("é", "é"), ("😀", "😀"), ("\u{7F}", "\u{7F}"), (" ", " "),
    ]

    @Test func specialBytesAtEveryOffset() throws {
        for length in 0..<20 {
            for position in 0...length {
                for (raw, escaped) in Self.specials {
                    let prefix = String(repeating: "a", count: position)
                    let suffix = String(repeating: "b", count: length - position)
                    let value = JSONValue.string(prefix + raw + suffix)
                    let text = value.jsonString
                    #expect(text == "\"" + prefix + escaped + suffix + "\"")
                    #expect(try JSONParser.parse(text) == value)
                    // Parse again with the string at the very end of the buffer, where no whole word is available.
                    #expect(try JSONParser.parse(Array(text.utf8)[...]) == value)
                    #expect(try JSONParser.parse("[" + text + "]") == [value])
                }
            }
        }
    }

    @Test func knownMemberNamesParseLikeAnyOtherString() throws {
        let names = ["id", "2.0", "code", "data", "error", "_meta", "method", "params", "result", "jsonrpc", "message"]
        for name in names {
            #expect(try JSONParser.parse("\"\(name)\"") == .string(name))
            #expect(try JSONParser.parse("{\"\(name)\":1}")[name] == 1)
        }
        for nearMiss in ["ie", "2.1", "codf", "Data", "errors", "_meta_", "metho", "param", "resulT", "jsonrpC"] {
            #expect(try JSONParser.parse("\"\(nearMiss)\"") == .string(nearMiss))
        }
    }
}
