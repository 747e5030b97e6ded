import ArgumentParser
import JulesCore
import JulesSecurity
import Logging

struct Reencrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-encrypt every stored name and phone number under the newest key of JULES_ENCRYPTION_KEYS.",
        discussion: """
            Works in batches, one transaction each, and reports progress on standard error. Safe to interrupt: run \
            it again and it carries on where it stopped. Safe beside running services, which may still write with \
            an older key until they restart with the new one: it makes passes until one finds nothing more to do \
            (at most --max-passes), then counts what is left. Exits 0 only when that count finds no value under any \
            key but the newest, so the older keys can be removed. Otherwise it exits 1 naming how many rows remain \
            under which key: rows no configured key can decrypt (left as they are), or rows services kept writing \
            with an older key (restart them with the new key and run again).
            """
    )

    @Option(help: "Rows per transaction (1-10000).")
    var batchSize = 500

    @Option(help: "Milliseconds to rest between batches, to spare a busy database.")
    var pauseMs = 0

    @Option(help: "Passes over the tables at most (1-100), for rows written with an older key during the run.")
    var maxPasses = Reencryptor.defaultMaximumPasses

    @Option(help: "Lowest log level written (JULES_LOG_LEVEL, default info).")
    var logLevel: String?

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 10000") }
        guard (0...60_000).contains(pauseMs) else { throw ValidationError("--pause-ms must be 0 to 60000") }
        guard (1...100).contains(maxPasses) else { throw ValidationError("--max-passes must be 1 to 100") }
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
            final = try await reencryptor.run(
                batchSize: batchSize, pause: .milliseconds(pauseMs), maximumPasses: maxPasses
            ) { progress in
                logger.info("progress", metadata: progress.logMetadata)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            logger.critical("re-encryption stopped", metadata: ["error": .string(String(describing: error))])
            await storage.shutdown()
            throw ExitCode.failure
        }
        await storage.shutdown()
        guard final.isComplete else {
            Self.reportIncomplete(final, configuredKeyIDs: security.cipher.keyRing.fingerprints, logger: logger)
            throw ExitCode.failure
        }
        logger.info("re-encryption finished", metadata: final.logMetadata)
    }

    /// Says what is left and why, by key id (a fingerprint, never a key or a value), so the operator knows not to
    /// remove any older key yet and what to do instead.
    private static func reportIncomplete(
        _ final: Reencryptor.Progress, configuredKeyIDs: [String], logger: Logger
    ) {
        let unconfigured = final.remainingByKey.keys.filter { !configuredKeyIDs.contains($0) }.sorted()
        var advice: [String] = []
        if final.failed > 0 || !unconfigured.isEmpty {
            advice.append(
                "rows no configured key can decrypt were left as they are: add the key that made them "
                    + "(see keys_not_configured) to JULES_ENCRYPTION_KEYS and run again")
        }
        if final.remaining > final.failed {
            advice.append(
                "rows were still being written with an older key after \(final.passes) passes: restart every "
                    + "service with the new key first, then run again")
        }
        var metadata = final.logMetadata
        metadata["remaining_by_key"] = .dictionary(final.remainingByKey.mapValues { .stringConvertible($0) })
        metadata["keys_not_configured"] = .array(unconfigured.map { .string($0) })
        metadata["advice"] = .string(advice.joined(separator: "; "))
        logger.error(
            "re-encryption is incomplete: rows remain under a key other than the newest; do not remove any key yet",
            metadata: metadata
        )
    }
}

extension Reencryptor.Progress {
    /// The counts every re-encryption log line carries (no values, no keys).
    var logMetadata: Logger.Metadata {
        [
            "passes": .stringConvertible(passes),
            "reencrypted": .stringConvertible(reencrypted),
            "failed": .stringConvertible(failed),
            "remaining": .stringConvertible(remaining),
        ]
    }
}
