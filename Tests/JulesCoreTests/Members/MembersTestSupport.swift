import Foundation
import JSONRPC
import JulesCore
import JulesSecurity
import Logging
import NIOCore
import Postgres
import Prometheus
import Redis
import Testing

/// A migrated throw-away database, the API over it, and every log line the router wrote.
struct MembersHarness {
    let database: PostgresClient
    let redis: RedisClient
    let cipher: PIICipher
    let router: JSONRPCRouter
    let logs: CapturingSink
    /// Conversation state under keys of this harness only, so parallel tests never share a journal.
    let state: StateStore
    /// The SMS queue the methods write to (no sender runs unless a test starts one).
    let sms: SMS
    /// The logger of the router, writing into ``logs``.
    let logger: Logger

    /// Runs `body` against a fresh database with the schema applied; drops it afterwards.
    static func run(
        cipher: PIICipher? = nil,
        _ body: (MembersHarness) async throws -> Void
    ) async throws {
        let (database, name) = try await StorageTestSupport.makeDatabase()
        let redis = try StorageTestSupport.makeRedis()
        do {
            try await Migrator(
                database: database, migrations: try Migration.embedded(), logger: StorageTestSupport.logger
            ).migrate()
            let harness = try MembersHarness(database: database, redis: redis, cipher: cipher ?? TestCipher.make())
            try await body(harness)
        } catch {
            await database.shutdown()
            await redis.shutdown()
            try await StorageTestSupport.drop(name)
            throw error
        }
        await database.shutdown()
        await redis.shutdown()
        try await StorageTestSupport.drop(name)
    }

    init(database: PostgresClient, redis: RedisClient, cipher: PIICipher, state: StateStore? = nil) throws {
        self.database = database
        self.redis = redis
        self.cipher = cipher
        let logs = CapturingSink()
        self.logs = logs
        // Every level, so the log-hygiene tests see everything the service could write.
        let logger = Logger(label: "jules") { label in JSONLogHandler(label: label, level: .trace, sink: logs) }
        self.logger = logger
        let sms = SMS(database: database, cipher: cipher, providerName: "twilio", rate: 80)
        self.sms = sms
        let state =
            state
            ?? StateStore(
                database: database, redis: redis, keyPrefix: "test:\(UUID().uuidString.prefix(8)):", logger: logger)
        self.state = state
        // The capabilities record their metrics where metrics.prometheus reads them, as in `jules serve`.
        let registry = PrometheusCollectorRegistry()
        let api = JulesAPI(
            startedAt: .now,
            registry: registry,
            document: try OpenRPCDocument.bundled(),
            database: database,
            redis: redis,
            cipher: cipher,
            state: state,
            sms: sms,
            metricsFactory: JulesMetrics.makeFactory(registry: registry)
        )
        self.router = JSONRPCRouter(methods: api.methods, logger: logger)
    }

    /// The same database seen through another key set, as after a restart with new configuration.
    func with(cipher: PIICipher) throws -> MembersHarness {
        try MembersHarness(database: database, redis: redis, cipher: cipher, state: state)
    }

    /// Calls `method` and returns the whole response object.
    func call(_ method: String, _ params: JSONValue = .object(JSONObject())) async throws -> JSONValue {
        var request: JSONObject = ["jsonrpc": "2.0", "method": .string(method), "id": 1]
        request["params"] = params
        let answer = try #require(await router.respond(to: ByteBuffer(bytes: JSONValue.object(request).serialized)))
        return try JSONParser.parse(answer)
    }

    /// Calls `method` and returns its result, failing the test on an error response.
    func result(
        _ method: String,
        _ params: JSONValue = .object(JSONObject()),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let response = try await call(method, params)
        #expect(response["error"] == nil, "\(method) failed: \(response)", sourceLocation: sourceLocation)
        return try #require(response["result"], sourceLocation: sourceLocation)
    }

    /// Calls `method`, expects an error, and returns `error`.
    func error(
        _ method: String,
        _ params: JSONValue,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let response = try await call(method, params)
        return try #require(response["error"], "\(method) did not fail: \(response)", sourceLocation: sourceLocation)
    }

    func createHousehold(_ name: String = "The Smiths", timezone: String = "Europe/London") async throws -> String {
        try #require(
            try await result("household.create", ["name": .string(name), "timezone": .string(timezone)])["id"]?
                .stringValue)
    }

    func addMember(household: String, name: String, phone: String) async throws -> JSONValue {
        try await result(
            "member.add", ["household_id": .string(household), "name": .string(name), "phone": .string(phone)])
    }
}

/// Two Fernet keys and one blind index key, as a key-rotation test uses them: every cipher made from them shares the
/// blind index, so a number finds its member whichever ring reads it (`cipher([b, a])` is the ring after rotating
/// to `b`).
struct RotationKeys {
    let a = FernetKey.generate()
    let b = FernetKey.generate()
    let blindIndexKey = BlindIndex.generateKey()

    func cipher(_ keys: [FernetKey]) throws -> PIICipher {
        try PIICipher(testKeys: keys, blindIndexKey: blindIndexKey)
    }
}

extension PIICipher {
    /// A cipher over `keys` (the first encrypts) with the given blind index key, as a test configures one.
    init(testKeys keys: [FernetKey], blindIndexKey: String) throws {
        self.init(keyRing: try FernetKeyRing(keys: keys), blindIndex: try BlindIndex(base64URL: blindIndexKey))
    }
}
