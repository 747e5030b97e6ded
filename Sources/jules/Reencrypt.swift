import ArgumentParser
import JulesCore
import Logging

struct Reencrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-encrypt every stored name and phone number under the newest key of JULES_ENCRYPTION_KEYS.",
        discussion: """
            Works in batches, one transaction each, and reports progress on standard error. Safe to interrupt: run \
            it again and it carries on where it stopped. Safe beside running services, which may still write with \
            an older key until they restart with the new one; `encryption.status` shows what is left. Exits 1 if \
            some values could not be decrypted with any configured key (they are left as they are).
            """
    )

    @Option(help: "Rows per transaction (1-10000).")
    var batchSize = 500

    @Option(help: "Milliseconds to rest between batches, to spare a busy database.")
    var pauseMs = 0

    @Option(help: "Lowest log level written (JULES_LOG_LEVEL, default info).")
    var logLevel: String?

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 10000") }
        guard (0...60_000).contains(pauseMs) else { throw ValidationError("--pause-ms must be 0 to 60000") }
    }

    func run() async throws {
        let level = try LogSetup.level(flag: logLevel)
        let security = try SecuritySettings()
        let storageSettings = try StorageSettings()
        LogSetup.bootstrap(level: level)
        let logger = Logger(label: "jules.reencrypt")
        let storage: Storage
        do {
            storage = try await Storage.connect(storageSettings, withRedis: false, logger: logger)
        } catch let failure as StartupFailure {
            logger.critical("jules reencrypt could not start", metadata: ["error": .string(failure.description)])
            throw ExitCode.failure
        }
        let final: Reencryptor.Progress
        do {
            let migrator = Migrator(database: storage.database, migrations: try Migration.embedded(), logger: logger)
            let pending = try await migrator.status().filter { $0.appliedAt == nil }
            guard pending.isEmpty else {
                logger.critical(
                    "the database schema is not up to date; run `jules migrate` first",
                    metadata: ["pending": .string(pending.map(\.migration.name).joined(separator: ", "))]
                )
                await storage.shutdown()
                throw ExitCode.failure
            }
            let reencryptor = Reencryptor(database: storage.database, cipher: security.cipher)
            let rows = try await reencryptor.pendingRows()
            logger.info(
                "re-encrypting",
                metadata: [
                    "key_id": .string(security.cipher.currentKeyID),
                    "rows": .stringConvertible(rows),
                ]
            )
            final = try await reencryptor.run(batchSize: batchSize, pause: .milliseconds(pauseMs)) { progress in
                logger.info(
                    "progress",
                    metadata: [
                        "reencrypted": .stringConvertible(progress.reencrypted),
                        "failed": .stringConvertible(progress.failed),
                        "remaining": .stringConvertible(progress.remaining),
                    ]
                )
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            logger.critical("re-encryption stopped", metadata: ["error": .string(String(describing: error))])
            await storage.shutdown()
            throw ExitCode.failure
        }
        await storage.shutdown()
        let summary: Logger.Metadata = [
            "reencrypted": .stringConvertible(final.reencrypted),
            "failed": .stringConvertible(final.failed),
        ]
        guard final.failed == 0 else {
            logger.error(
                "some rows could not be decrypted with the configured keys; they were left as they are",
                metadata: summary)
            throw ExitCode.failure
        }
        logger.info("re-encryption finished", metadata: summary)
    }
}
