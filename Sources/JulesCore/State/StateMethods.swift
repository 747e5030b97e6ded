import Foundation
import JSONRPC
import Redis

extension StateStore.Failure: JSONRPCErrorConvertible {
    public var jsonRPCError: JSONRPCError {
        switch self {
        case .householdNotFound:
            .notFound("No live household has this id")
        case .versionMismatch(let current):
            .conflict(
                "The state's version is not the expected one",
                details: ["current_version": JSONValue(Int(current))]
            )
        case .tooLarge(let limit):
            .invalidParams(field: "params.state", reason: "must be at most \(limit) bytes as compact JSON")
        case .notAnObject:
            .invalidParams(field: "params.state", reason: "must be a JSON object (after a merge, too)")
        case .unstorable(let field, let reason):
            .invalidParams(field: "params.state" + field, reason: reason)
        case .appliedNotDurable(let version):
            .unavailable(
                "The update was applied at version \(version), but PostgreSQL has not stored it yet; it is kept "
                    + "and stored later. Do not apply it again.",
                details: ["applied_version": JSONValue(Int(version))]
            )
        case .outcomeUnknown:
            .unavailable(
                "The connection to Redis closed after the update was sent; the update may have taken effect. Read "
                    + "the state before applying it again.")
        case .expectedVersionNeedsCache:
            .unavailable(
                "Redis is unreachable, and PostgreSQL may not hold this household's newest acknowledged version, so "
                    + "expected_version cannot be checked. Retry once Redis is back, or after an update without "
                    + "expected_version.")
        }
    }
}

/// `state.get`: a household's conversation state, its version, and where it came from.
struct StateGetMethod: JSONRPCMethod {
    static let name = "state.get"

    struct Params: Decodable, Sendable, JSONValueDecodable {
        var householdID: UUID

        enum CodingKeys: String, CodingKey {
            case householdID = "household_id"
        }

        /// The common case read directly; anything else goes through `Decodable`, which reports what is wrong.
        init?(decodingDirectly value: JSONValue) {
            guard case .object(let object) = value, case .string(let text)? = object["household_id"],
                let householdID = UUID(text: text)
            else { return nil }
            self.householdID = householdID
        }
    }

    struct Result: Encodable, Sendable, JSONValueRepresentable {
        /// The state object, or `null` when there is none.
        var state: JSONValue
        var version: Int64
        var source: StateStore.Source

        var jsonValue: JSONValue {
            .object(["state": state, "version": .number(String(version)), "source": .string(source.rawValue)])
        }
    }

    let store: StateStore

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        let (state, source) = try await store.get(params.householdID)
        return Result(state: state.state ?? .null, version: state.version, source: source)
    }
}

/// `state.update`: replaces the state or merges a patch into it (RFC 7396), optionally only at an expected version.
struct StateUpdateMethod: JSONRPCMethod {
    static let name = "state.update"

    enum Mode: String, Decodable, Sendable {
        case replace, merge
    }

    struct Params: Decodable, Sendable, JSONValueDecodable {
        var householdID: UUID
        var state: JSONValue
        var mode: Mode?
        var expectedVersion: Int64?
        var durable: Bool?

        enum CodingKeys: String, CodingKey {
            case state, mode, durable
            case householdID = "household_id"
            case expectedVersion = "expected_version"
        }

        /// The common case read directly (an expected version, or any value of an unexpected type, goes through
        /// `Decodable`, which reads integers and reports what is wrong).
        init?(decodingDirectly value: JSONValue) {
            guard case .object(let object) = value, case .string(let text)? = object["household_id"],
                let householdID = UUID(text: text), let state = object["state"],
                object["expected_version"]?.isNull ?? true
            else { return nil }
            switch object["mode"] {
            case nil, .null?: mode = nil
            case .string(let text)?:
                guard let mode = Mode(rawValue: text) else { return nil }
                self.mode = mode
            default: return nil
            }
            switch object["durable"] {
            case nil, .null?: durable = nil
            case .bool(let flag)?: durable = flag
            default: return nil
            }
            self.householdID = householdID
            self.state = state
            self.expectedVersion = nil
        }
    }

    struct Result: Encodable, Sendable, JSONValueRepresentable {
        var version: Int64

        var jsonValue: JSONValue { .object(["version": .number(String(version))]) }
    }

    let store: StateStore

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        if let expected = params.expectedVersion, expected < 0 {
            throw JSONRPCError.invalidParams(field: "params.expected_version", reason: "must not be negative")
        }
        let change: StateStore.Change
        switch params.mode ?? .replace {
        case .replace: change = .replace(params.state)
        case .merge:
            guard params.state.serialized.count <= store.maximumStateBytes else {
                throw StateStore.Failure.tooLarge(limit: store.maximumStateBytes)
            }
            change = .merge(params.state)
        }
        let version = try await store.update(
            params.householdID, change, expected: params.expectedVersion, durable: params.durable ?? false)
        return Result(version: version)
    }
}

/// `state.delete`: removes the state; the version goes on increasing.
struct StateDeleteMethod: JSONRPCMethod {
    static let name = "state.delete"

    struct Params: Decodable, Sendable {
        var householdID: UUID
        var expectedVersion: Int64?
        var durable: Bool?

        enum CodingKeys: String, CodingKey {
            case durable
            case householdID = "household_id"
            case expectedVersion = "expected_version"
        }
    }

    let store: StateStore

    func handle(_ params: Params, context: RequestContext) async throws -> StateUpdateMethod.Result {
        if let expected = params.expectedVersion, expected < 0 {
            throw JSONRPCError.invalidParams(field: "params.expected_version", reason: "must not be negative")
        }
        let version = try await store.update(
            params.householdID, .delete, expected: params.expectedVersion, durable: params.durable ?? false)
        return StateUpdateMethod.Result(version: version)
    }
}

/// `state.stats`: cache hits and misses of this instance, and the journal's length and persist lag.
struct StateStatsMethod: JSONRPCMethod {
    static let name = "state.stats"

    struct Result: Encodable, Sendable {
        var cacheHits: Int
        var cacheMisses: Int
        /// Updates acknowledged but not yet in PostgreSQL; `null` while Redis is unreachable.
        var journalLength: Int?
        /// Age of the oldest of them, in milliseconds; `null` while Redis is unreachable.
        var persistLagMS: Int?
        /// `cache`, or `database` while Redis is unreachable and state goes straight to PostgreSQL.
        var mode: StateStore.Source

        enum CodingKeys: String, CodingKey {
            case mode
            case cacheHits = "cache_hits"
            case cacheMisses = "cache_misses"
            case journalLength = "journal_length"
            case persistLagMS = "persist_lag_ms"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(cacheHits, forKey: .cacheHits)
            try container.encode(cacheMisses, forKey: .cacheMisses)
            try container.encode(journalLength, forKey: .journalLength)
            try container.encode(persistLagMS, forKey: .persistLagMS)
            try container.encode(mode, forKey: .mode)
        }
    }

    let store: StateStore

    func handle(_ params: NoParams, context: RequestContext) async throws -> Result {
        let journal: (length: Int, lagMilliseconds: Int)?
        if store.isBypassingCache {
            journal = nil
        } else {
            journal = try? await store.journalStatistics()
        }
        return Result(
            cacheHits: store.cacheHits,
            cacheMisses: store.cacheMisses,
            journalLength: journal?.length,
            persistLagMS: journal?.lagMilliseconds,
            mode: store.isBypassingCache ? .database : .cache
        )
    }
}
