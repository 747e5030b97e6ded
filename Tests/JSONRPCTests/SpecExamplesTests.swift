import Foundation
import JSONRPC
import Testing

/// Every example of the JSON-RPC 2.0 specification (`vectors/jsonrpc/examples.md`, copied unedited into the
/// fixtures), run through the router: the requests are read from the fixture itself, so an edit there shows here.
@Suite struct SpecExamplesTests {
    struct Example: CustomTestStringConvertible, Sendable {
        var title: String
        var requests: [String]
        /// The expected response text, or `nil` for "nothing".
        var response: String?
        var testDescription: String { title }
    }

    /// The `-->`/`<--` code blocks of the fixture, each with the heading above it.
    static let examples: [Example] = {
        let path = TestSupport.fixtures + "/vectors/jsonrpc/examples.md"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var examples: [Example] = []
        var heading = ""
        var inBlock = false
        var requests: [String] = []
        var response: String?
        var current: String?
        var sawResponse = false
        func flush() {
            if let current {
                if sawResponse { response = current } else { requests.append(current) }
            }
            current = nil
        }
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("## ") { heading = String(line.dropFirst(3)) }
            if line.trimmingCharacters(in: .whitespaces) == "```" {
                if inBlock {
                    flush()
                    if !requests.isEmpty {
                        examples.append(Example(title: heading, requests: requests, response: response))
                    }
                    requests = []
                    response = nil
                    sawResponse = false
                }
                inBlock.toggle()
                continue
            }
            guard inBlock else { continue }
            if line.hasPrefix("--> ") {
                flush()
                current = String(line.dropFirst(4))
            } else if line.hasPrefix("<-- ") {
                flush()
                sawResponse = true
                let rest = String(line.dropFirst(4))
                current = rest.hasPrefix("(nothing") ? nil : rest
            } else if current != nil {
                current! += "\n" + line
            }
        }
        return examples
    }()

    @Test func fixtureHoldsTheSpecificationsExamples() {
        // E1-E9 and the mixed batch.
        #expect(Self.examples.count == 10)
    }

    @Test(arguments: examples)
    func example(_ example: Example) async throws {
        let router = TestSupport.router()
        var answers: [JSONValue] = []
        for request in example.requests {
            if let answer = try await TestSupport.respond(router, request) { answers.append(answer) }
        }
        guard let expectedText = example.response else {
            #expect(answers.isEmpty, "expected no response, got \(answers)")
            return
        }
        let expected = try JSONParser.parse(expectedText)
        #expect(answers.count == 1)
        guard let answer = answers.first else { return }
        #expect(Self.comparable(answer, isOurs: true) == Self.comparable(expected, isOurs: false))
    }

    /// A response reduced to what the specification fixes: `error.data` is ours to add (type, correlation id).
    static func comparable(_ value: JSONValue, isOurs: Bool) -> JSONValue {
        switch value {
        case .array(let elements):
            return .array(elements.map { comparable($0, isOurs: isOurs) })
        case .object(var object):
            if case .object(var error)? = object["error"] {
                if isOurs {
                    #expect(error["data"]?["type"]?.stringValue != nil, "every error names its type")
                    #expect(error["data"]?["correlation_id"]?.stringValue != nil, "every error has a correlation id")
                }
                error = JSONObject(error.filter { $0.key != "data" }.map { ($0.key, $0.value) })
                object["error"] = .object(error)
            }
            return .object(object)
        default:
            return value
        }
    }

    @Test func mixedBatchOnAServerWithoutTheMethods() async throws {
        // The fixture's derived case: no method exists, so four -32601 and one -32600, nothing for the notification.
        let router = TestSupport.router([])
        let mixed = try #require(Self.examples.last?.requests.first)
        let answer = try #require(try await TestSupport.respond(router, mixed))
        let responses = try #require(answer.arrayValue)
        #expect(responses.count == 5)
        let codes = responses.compactMap { $0["error"]?["code"]?.intValue }
        #expect(codes.sorted() == [-32601, -32601, -32601, -32601, -32600].sorted())
        let ids = responses.filter { $0["error"]?["code"]?.intValue == -32601 }.compactMap { $0["id"]?.stringValue }
        #expect(ids.sorted() == ["1", "2", "5", "9"])
    }
}
