import Foundation
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

/// The params read directly (`JSONValueDecodable`) read the same values as `Decodable` (through Foundation's
/// decoder, which knows nothing of the shortcut), and whatever `Decodable` rejects is still rejected.
@Suite struct DirectParamsTests {
    static let household = "0b5e8f0c-3a55-4c7e-9d0e-1f2a3b4c5d6e"

    static func decodeBoth<Params: Decodable>(_ type: Params.Type, _ text: String) throws -> (
        ours: Params?, reference: Params?
    ) {
        let value = try JSONParser.parse(text)
        let ours = try? JSONValueDecoder().decode(Params.self, from: value)
        let reference = try? Foundation.JSONDecoder().decode(Params.self, from: Data(text.utf8))
        return (ours, reference)
    }

    @Test(arguments: [
        #"{"household_id":"\#(household)"}"#,
        #"{"household_id":"\#(household.uppercased())","_meta":{"correlation_id":"c-1"}}"#,
        #"{"household_id":"\#(household)","extra":[1,2]}"#,
        #"{"household_id":"not-a-uuid"}"#,
        #"{"household_id":42}"#,
        #"{"household_id":null}"#,
        #"{}"#,
        #"[]"#,
    ])
    func stateGet(text: String) throws {
        let (ours, reference) = try Self.decodeBoth(StateGetMethod.Params.self, text)
        #expect(ours?.householdID == reference?.householdID)
        #expect((ours == nil) == (reference == nil))
    }

    @Test func stateGetTakesTheDirectPath() throws {
        let value = try JSONParser.parse(#"{"household_id":"\#(Self.household)"}"#)
        #expect(StateGetMethod.Params(decodingDirectly: value)?.householdID.lowercasedText == Self.household)
    }

    @Test(arguments: [
        #"{"household_id":"\#(household)","state":{"step":"confirming","n":[1,2.5]}}"#,
        #"{"household_id":"\#(household)","state":null}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"mode":"merge","durable":true}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"mode":"replace","durable":false}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"mode":null,"durable":null,"expected_version":null}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"expected_version":7}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"expected_version":"7"}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"expected_version":1.5}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"mode":"patch"}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"mode":1}"#,
        #"{"household_id":"\#(household)","state":{"a":1},"durable":"yes"}"#,
        #"{"household_id":"\#(household)"}"#,
        #"{"household_id":"nope","state":{}}"#,
        #"{"state":{}}"#,
    ])
    func stateUpdate(text: String) throws {
        let (ours, reference) = try Self.decodeBoth(StateUpdateMethod.Params.self, text)
        #expect((ours == nil) == (reference == nil))
        #expect(ours?.householdID == reference?.householdID)
        #expect(ours?.state == reference?.state)
        #expect(ours?.mode == reference?.mode)
        #expect(ours?.expectedVersion == reference?.expectedVersion)
        #expect(ours?.durable == reference?.durable)
    }

    @Test func stateUpdateTakesTheDirectPath() throws {
        let text = #"{"household_id":"\#(Self.household)","state":{"a":1},"mode":"merge","durable":true}"#
        let params = try #require(StateUpdateMethod.Params(decodingDirectly: try JSONParser.parse(text)))
        #expect(params.mode == .merge && params.durable == true && params.expectedVersion == nil)
    }
}
