import CoreMetrics
import Foundation
import JSONRPC
import JulesCore
import Logging
import NIOCore
import Postgres
import Prometheus
import Redis
import Testing

/// The router and `schema/openrpc.json` describe the same API.
@Suite struct APIContractTests {
    static let packageRoot: String = {
        let parts = #filePath.split(separator: "/").dropLast(3)
        return "/" + parts.joined(separator: "/")
    }()

    /// The API with storage clients that are never connected: these tests touch no server.
    static func makeAPI(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) throws -> JulesAPI {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        return JulesAPI(
            startedAt: .now,
            registry: registry,
            document: try OpenRPCDocument.bundled(),
            database: PostgresClient(
                configuration: try PostgresConfiguration(
                    connectionString: "postgresql://nobody@/none?host=/nonexistent"),
                logger: logger
            ),
            redis: RedisClient(
                configuration: try RedisConfiguration(url: "unix:///nonexistent/redis.sock"), logger: logger),
            cipher: try TestCipher.make()
        )
    }

    static func router(_ api: JulesAPI) -> JSONRPCRouter {
        JSONRPCRouter(
            methods: api.methods,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            metricsFactory: JulesMetrics.makeFactory(registry: api.registry)
        )
    }

    @Test func routerAndDocumentServeTheSameMethods() throws {
        let api = try Self.makeAPI()
        let router = Self.router(api)
        #expect(router.methodNames == api.document.methodNames)
        #expect(!router.methodNames.isEmpty)
    }

    @Test func bundledDocumentIsTheSchemaFile() throws {
        // The resource is a link to schema/openrpc.json; this fails if the link is replaced by a stale copy.
        let file = try Data(contentsOf: URL(fileURLWithPath: Self.packageRoot + "/schema/openrpc.json"))
        let fromFile = try OpenRPCDocument(data: file)
        #expect(fromFile.json == (try OpenRPCDocument.bundled()).json)
    }

    @Test func discoverReturnsTheDocument() async throws {
        let api = try Self.makeAPI()
        let router = Self.router(api)
        let answer = try #require(
            await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#))
        )
        let response = try JSONParser.parse(answer)
        #expect(response["result"] == api.document.json)
        #expect(response["result"]?["openrpc"]?.stringValue?.hasPrefix("1.3.") == true)
    }

    @Test func invalidDocumentsAreRefusedWithAReason() {
        #expect(throws: OpenRPCDocument.LoadError.self) { try OpenRPCDocument(data: Data("{".utf8)) }
        #expect(throws: OpenRPCDocument.LoadError.self) {
            try OpenRPCDocument(data: Data(#"{"openrpc":"1.3.2"}"#.utf8))
        }
    }
}

@Suite struct HealthAndMetricsTests {
    @Test func healthLiveReportsStatusVersionAndUptime() async throws {
        let api = try APIContractTests.makeAPI()
        let router = APIContractTests.router(api)
        let answer = try #require(
            await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"health.live","id":"h"}"#))
        )
        let result = try #require(try JSONParser.parse(answer)["result"])
        #expect(result["status"] == "ok")
        #expect(result["version"]?.stringValue == JulesVersion.current)
        let uptime = try #require(result["uptime_seconds"]?.doubleValue)
        #expect(uptime >= 0 && uptime < 60)
    }

    @Test func healthLiveRejectsUnexpectedParams() async throws {
        let router = APIContractTests.router(try APIContractTests.makeAPI())
        let answer = try #require(
            await router.respond(
                to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"health.live","params":[1],"id":1}"#))
        )
        #expect(try JSONParser.parse(answer)["error"]?["code"]?.intValue == -32602)
    }

    @Test func everyMethodHasItsMetricsFromTheStart() async throws {
        let registry = PrometheusCollectorRegistry()
        let api = try APIContractTests.makeAPI(registry: registry)
        let router = APIContractTests.router(api)
        let before = registry.emitToString()
        for name in router.methodNames {
            #expect(before.contains(#"rpc_requests_total{method="\#(name)"} 0"#), "\(name) requests")
            #expect(before.contains(#"rpc_request_duration_seconds_count{method="\#(name)"} 0"#), "\(name) latency")
            #expect(before.contains(#"rpc_request_errors_total{method="\#(name)",type="internal_error"} 0"#))
        }
        _ = await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"health.live","id":1}"#))
        _ = await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"nope","id":2}"#))
        let answer = try #require(
            await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"metrics.prometheus","id":3}"#))
        )
        let text = try #require(try JSONParser.parse(answer)["result"]?["text"]?.stringValue)
        #expect(text.contains(#"rpc_requests_total{method="health.live"} 1"#))
        #expect(text.contains(#"rpc_request_errors_total{method="_unknown",type="method_not_found"} 1"#))
        #expect(text.contains(#"rpc_request_duration_seconds_bucket{method="health.live",le="0.0001"}"#))
    }
}
