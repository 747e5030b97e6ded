import Foundation
import JSONRPC
import Testing

@testable import JulesCore

/// The UUID text helpers agree with Foundation on every input.
@Suite struct UUIDTextTests {
    @Test func writesWhatFoundationWritesInLowercase() {
        for _ in 0..<1_000 {
            let uuid = UUID()
            #expect(uuid.lowercasedText == uuid.uuidString.lowercased())
        }
        let edges = [
            UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)),
        ]
        for uuid in edges {
            #expect(uuid.lowercasedText == uuid.uuidString.lowercased())
        }
    }

    @Test func readsWhatFoundationReads() {
        for _ in 0..<1_000 {
            let uuid = UUID()
            #expect(UUID(text: uuid.uuidString) == uuid)
            #expect(UUID(text: uuid.uuidString.lowercased()) == uuid)
        }
    }

    @Test(arguments: [
        "", "not a uuid", "0c0d1663-54d3-bfdf-527b-ea9cadabb56", "0c0d1663-54d3-bfdf-527b-ea9cadabb5655",
        "0c0d166354d3-bfdf-527b-ea9cadabb5655", "0c0d1663-54d3-bfdf-527b+ea9cadabb565",
        "0c0d1663-54d3-bfdf-527b-ea9cadabb56g", "0c0d1663-54d3-bfdf-527b-ea9cadabb56é",
        "{0c0d1663-54d3-bfdf-527b-ea9cadabb565}", " 0c0d1663-54d3-bfdf-527b-ea9cadabb565",
        "0c0d1663-54d3-bfdf-527b-ea9cadabb56\u{0}",
    ])
    func refusesWhatFoundationRefuses(_ text: String) {
        #expect(UUID(uuidString: text) == nil)
        #expect(UUID(text: text) == nil)
    }

    @Test func paramsDecodeUUIDsDirectlyAndStillNameABadOne() throws {
        struct Params: Decodable { var id: UUID; var ids: [UUID] }
        let uuid = UUID()
        let decoded = try JSONValueDecoder().decode(
            Params.self, from: ["id": .string(uuid.lowercasedText), "ids": [.string(uuid.uuidString)]])
        #expect(decoded.id == uuid && decoded.ids == [uuid])
        do {
            _ = try JSONValueDecoder().decode(Params.self, from: ["id": "nope", "ids": []])
            Issue.record("a bad UUID was accepted")
        } catch let error as DecodingError {
            #expect(JSONValueDecoder.describe(error).field == "id")
        }
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(Params.self, from: ["id": 7, "ids": []])
        }
    }
}
