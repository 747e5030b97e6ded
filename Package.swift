// swift-tools-version:6.1
import PackageDescription

/// One set of settings for every target: `any` spelled out for existentials, and imports that are
/// visible only where they are written, so each file says what it depends on.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What the Postgres and Redis wrappers build on: a thread pool for the blocking C calls, locks, and logging.
let storageClientDependencies: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
    .product(name: "Logging", package: "swift-log"),
]

let package = Package(
    name: "jules-core",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jules", targets: ["jules"]),
        .executable(name: "jules-bench", targets: ["jules-bench"]),
        .library(name: "JSONRPC", targets: ["JSONRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The SMS provider's REST API over HTTPS: pooled connections, TLS and timeouts on the same event loops.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // OpenSSL's libcrypto (Fernet, HMAC, the blind index); used by JulesSecurity.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libpq and hiredis, the C clients of the two stores.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Debian 12 ships hiredis 0.14 (RESP2, no redisConnectWithOptions).
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // <sys/epoll.h>, which Swift's Glibc module leaves out: for jules-bench's client (Linux only).
        .systemLibrary(name: "CEpoll"),
        // PostgreSQL through libpq: pool, parameterised queries, typed rows, transactions. Knows nothing of Jules.
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ"
            ] + storageClientDependencies,
            swiftSettings: swiftSettings
        ),
        // Redis through hiredis: pool, binary-safe commands, pipelines, scripts. Knows nothing of Jules.
        .target(
            name: "Redis",
            dependencies: [
                "CHiredis"
            ] + storageClientDependencies,
            swiftSettings: swiftSettings
        ),
        // Fernet tokens, key rotation, blind indexes and constant-time comparison over libcrypto.
        .target(name: "JulesSecurity", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        // JSON-RPC 2.0: JSON values, framing, router and the SwiftNIO servers. Knows nothing of Jules.
        .target(
            name: "JSONRPC",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain: one folder per capability, each with its methods.
        .target(
            name: "JulesCore",
            dependencies: [
                "JSONRPC",
                "Postgres",
                "Redis",
                "JulesSecurity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.embedInCode("Resources/openrpc.json")],
            swiftSettings: swiftSettings,
            plugins: ["EmbedMigrations"]
        ),
        // Build-time tool: migrations/*.sql into Swift, so the binary carries its schema.
        .executableTarget(name: "embed-migrations", swiftSettings: swiftSettings),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-migrations"]),
        .executableTarget(
            name: "jules",
            dependencies: [
                "JulesCore",
                "JSONRPC",
                "Postgres",
                "Redis",
                "JulesSecurity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "jules-bench",
            dependencies: [
                "Postgres",
                .target(name: "CEpoll", condition: .when(platforms: [.linux])),
                "Redis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JSONRPCTests",
            dependencies: [
                "JSONRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: [
                "Postgres"
            ] + storageClientDependencies,
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RedisTests",
            dependencies: [
                "Redis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JulesSecurityTests",
            dependencies: ["JulesSecurity"],
            // The Fernet vectors are read from disk via #filePath, not bundled as resources.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JulesCoreTests",
            dependencies: [
                "JulesCore",
                "JSONRPC",
                "Postgres",
                "Redis",
                "JulesSecurity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
