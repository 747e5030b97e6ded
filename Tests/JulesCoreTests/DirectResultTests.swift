import JSONRPC
import Testing

@testable import JulesCore

/// The results built directly as JSON (`JSONValueRepresentable`) write exactly the bytes their `Encodable` form
/// writes, so the fast path can never change an answer.
@Suite struct DirectResultTests {
    static func bytes(_ value: JSONValue) -> String {
        var bytes = [UInt8]()
        value.serialize(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func expectSame<Result: Encodable & JSONValueRepresentable>(_ result: Result) throws {
        let encoded = try JSONValueEncoder().encode(result)
        #expect(bytes(result.jsonValue) == bytes(encoded))
    }

    @Test(arguments: [0, 0.001, 0.1, 1, 59.999, 12_345.678, 1e9 + 0.5])
    func healthLive(uptime: Double) throws {
        try Self.expectSame(HealthLiveMethod.Result(status: "ok", version: "1.2.3-dev+é", uptimeSeconds: uptime))
    }

    @Test(arguments: [
        "null", "{}", #"{"current_flow":"recipe_submission","step":"confirming","n":[1,2.50,{"é":"\n"}]}"#,
    ])
    func stateGet(state: String) throws {
        for version in [Int64(0), 1, 9_007_199_254_740_993] {
            for source in [StateStore.Source.cache, .database] {
                try Self.expectSame(
                    StateGetMethod.Result(state: try JSONParser.parse(state), version: version, source: source))
            }
        }
    }

    @Test(arguments: [Int64(0), 1, 42, Int64.max])
    func stateUpdate(version: Int64) throws {
        try Self.expectSame(StateUpdateMethod.Result(version: version))
    }
}
