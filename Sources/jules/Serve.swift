import ArgumentParser
import JSONRPC
import JulesCore
import JulesSecurity
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the JSON-RPC API on a Unix socket, on stdin/stdout, or both.",
        discussion: """
            Every flag can also be set by the environment variable named in its help. Logs are JSON lines on \
            standard error; with --stdio, standard output carries protocol messages only.
            """
    )

    @Option(help: "Listen on this Unix socket path (JULES_SOCKET).")
    var socket: String?

    @Flag(help: "Serve on standard input and output; stops when standard input ends.")
    var stdio = false

    @Option(help: "Permission bits of the socket file, in octal (JULES_SOCKET_MODE, default 0600).")
    var socketMode: String?

    @Option(help: "Largest message accepted, in bytes (JULES_MAX_MESSAGE_BYTES, default 16777216).")
    var maxMessageBytes: Int?

    @Option(help: "Most requests in one batch (JULES_MAX_BATCH, default 100).")
    var maxBatch: Int?

    @Option(help: "Most requests running at once on one connection (JULES_MAX_IN_FLIGHT, default 64).")
    var maxInFlight: Int?

    @Option(help: "Lowest log level written: trace, debug, info, notice, warning, error, critical (JULES_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Event loop threads serving connections (JULES_EVENT_LOOP_THREADS, default: one per core).")
    var eventLoopThreads: Int?

    @Option(help: "Seconds to let requests in flight finish on shutdown (JULES_SHUTDOWN_GRACE_SECONDS, default 10).")
    var shutdownGraceSeconds: Int?

    @Flag(help: "Do not apply pending migrations at start-up (they must have been applied: the start checks).")
    var noMigrate = false

    func run() async throws {
        let settings = try ServeSettings(self)
        let storageSettings = try StorageSettings()
        let security = try SecuritySettings()
        let stateSettings = try StateSettings()
        let smsSettings = try SMSSettings(instanceID: stateSettings.instanceID)
        let thresholds = try StorageSettings.healthThresholds()
        let startedAt = ContinuousClock.now
        LogSetup.bootstrap(level: settings.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(JulesMetrics.makeFactory(registry: registry))
        let logger = Logger(label: "jules")
        logger.info(
            "encryption keys loaded",
            metadata: [
                "key_ids": .array(security.cipher.keyRing.fingerprints.map { .string($0) }),
                "default_region": .string(security.defaultRegion.code),
            ]
        )

        // Created first: the Redis client gives each of its loops a connection, so requests never change thread.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: settings.eventLoopThreads)
        let storage: Storage
        do {
            storage = try await Storage.connect(
                storageSettings, withRedis: true, eventLoopGroup: eventLoopGroup, logger: logger)
        } catch {
            logger.critical("jules serve could not start", metadata: ["error": .string(String(describing: error))])
            try? await eventLoopGroup.shutdownGracefully()
            throw ExitCode.failure
        }
        do {
            let migrator = Migrator(database: storage.database, migrations: try Migration.embedded(), logger: logger)
            if !noMigrate {
                try await migrator.migrate()
            } else {
                // Not migrating is not starting blind: a schema that lacks this build's migrations would fail in
                // every query that needs them while the process looks healthy.
                let (pending, unknown) = try await migrator.verifyApplied()
                guard pending.isEmpty else {
                    throw Migrator.Failure(
                        description: "--no-migrate, but this build's migrations "
                            + pending.map(\.name).joined(separator: ", ") + " are not applied; run `jules migrate`")
                }
                if !unknown.isEmpty {
                    logger.notice(
                        "the database has migrations this build does not know (a newer version migrated it)",
                        metadata: ["migrations": .string(unknown.joined(separator: ", "))])
                }
            }
        } catch {
            logger.critical("jules serve could not start", metadata: ["error": .string(String(describing: error))])
            await storage.shutdown()
            try? await eventLoopGroup.shutdownGracefully()
            throw ExitCode.failure
        }
        let state = StateStore(
            database: storage.database,
            redis: storage.redis!,
            ttl: stateSettings.ttl,
            maximumStateBytes: stateSettings.maximumStateBytes,
            keyPrefix: stateSettings.keyPrefix,
            logger: logger
        )
        let provider = smsSettings.makeProvider(eventLoopGroup: eventLoopGroup, logger: logger)
        let sms = SMS(
            database: storage.database,
            cipher: security.cipher,
            providerName: provider.name,
            rate: smsSettings.rate,
            senderRate: smsSettings.senderRate,
            maximumBatch: smsSettings.maximumBatch
        )
        logger.info(
            "SMS provider chosen",
            metadata: [
                "provider": .string(provider.name), "rate": .stringConvertible(smsSettings.rate),
                "quiet_hours": .string(smsSettings.sender.quietHours.map { "\($0.start)-\($0.end)" } ?? "off"),
            ]
        )
        let api = JulesAPI(
            startedAt: startedAt,
            registry: registry,
            document: try OpenRPCDocument.bundled(),
            database: storage.database,
            redis: storage.redis!,
            cipher: security.cipher,
            defaultRegion: security.defaultRegion,
            state: state,
            sms: sms,
            healthThresholds: thresholds
        )
        let router = JSONRPCRouter(
            methods: api.methods,
            configuration: .init(
                maximumBatchSize: settings.maximumBatchSize,
                requestLog: JSONRequestLog(label: logger.label)
            ),
            logger: logger
        )
        // Shut down in reverse order: the servers drain first, then the SMS sender finishes its requests in flight,
        // then the state persister stores what was journaled, then the storage clients close.
        let persister = StatePersister(
            store: state,
            consumer: stateSettings.instanceID,
            batchSize: stateSettings.persistBatchSize,
            interval: stateSettings.persistInterval,
            reclaimIdle: stateSettings.reclaimIdle,
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: StorageShutdownService(storage: storage)),
            .init(service: persister),
            .init(
                service: SMSSender(
                    queue: sms.queue,
                    provider: provider,
                    limiter: SMSRateLimiter(redis: storage.redis!, buckets: smsSettings.buckets()),
                    cipher: security.cipher,
                    configuration: smsSettings.sender,
                    wakeup: sms.wakeup,
                    activity: sms.activity,
                    logger: logger
                )),
        ]
        if let path = settings.socketPath {
            let server = UnixSocketServer(
                configuration: .init(
                    path: path,
                    mode: settings.socketMode,
                    maximumMessageBytes: settings.maximumMessageBytes,
                    maximumInFlightPerConnection: settings.maximumInFlight
                ),
                router: router,
                eventLoopGroup: eventLoopGroup,
                logger: logger
            )
            services.append(.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        if settings.stdio {
            let server = StdioServer(
                configuration: .init(
                    maximumMessageBytes: settings.maximumMessageBytes,
                    maximumInFlight: settings.maximumInFlight
                ),
                router: router,
                eventLoopGroup: eventLoopGroup,
                logger: logger
            )
            // Standard input ending is how a parent process says it is done: the whole service stops.
            services.append(.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(settings.shutdownGraceSeconds)
        configuration.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            logger.critical("jules serve stopped on an error", metadata: ["error": .string("\(error)")])
            try? await eventLoopGroup.shutdownGracefully()
            throw ExitCode.failure
        }
        try? await eventLoopGroup.shutdownGracefully()
        logger.info("jules serve stopped")
    }
}

/// The settings of `jules serve`, from flags, then the environment, then defaults, all validated.
struct ServeSettings {
    var socketPath: String?
    var stdio: Bool
    var socketMode: UInt32
    var maximumMessageBytes: Int
    var maximumBatchSize: Int
    var maximumInFlight: Int
    var logLevel: Logger.Level
    var shutdownGraceSeconds: Int
    var eventLoopThreads: Int

    init(_ command: Serve) throws {
        socketPath = command.socket ?? Environment.string("JULES_SOCKET")
        stdio = command.stdio
        guard socketPath != nil || stdio else {
            throw ValidationError("nothing to serve on: give --socket PATH (or JULES_SOCKET), --stdio, or both")
        }
        if let socketPath {
            // Checked before connecting to anything, so a bad path fails fast.
            do {
                _ = try UnixSocketPath(socketPath)
            } catch {
                throw ValidationError(error.description)
            }
        }
        let modeText = command.socketMode ?? Environment.string("JULES_SOCKET_MODE") ?? "0600"
        guard let mode = UInt32(modeText, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode (JULES_SOCKET_MODE) must be octal permission bits such as 0600")
        }
        socketMode = mode
        maximumMessageBytes = try Environment.integer(
            "JULES_MAX_MESSAGE_BYTES",
            flag: (command.maxMessageBytes, "--max-message-bytes"),
            default: 16 * 1024 * 1024,
            range: 1024...(1 << 30)
        )
        maximumBatchSize = try Environment.integer(
            "JULES_MAX_BATCH",
            flag: (command.maxBatch, "--max-batch"),
            default: 100,
            range: 1...10_000
        )
        maximumInFlight = try Environment.integer(
            "JULES_MAX_IN_FLIGHT",
            flag: (command.maxInFlight, "--max-in-flight"),
            default: 64,
            range: 1...10_000
        )
        shutdownGraceSeconds = try Environment.integer(
            "JULES_SHUTDOWN_GRACE_SECONDS",
            flag: (command.shutdownGraceSeconds, "--shutdown-grace-seconds"),
            default: 10,
            range: 0...3600
        )
        eventLoopThreads = try Environment.integer(
            "JULES_EVENT_LOOP_THREADS",
            flag: (command.eventLoopThreads, "--event-loop-threads"),
            default: System.coreCount,
            range: 1...256
        )
        logLevel = try LogSetup.level(flag: command.logLevel)
    }
}
