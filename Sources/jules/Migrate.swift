import ArgumentParser
import JulesCore
import Logging

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the pending database migrations (JULES_DATABASE_URL), or list them with --status."
    )

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    @Option(help: "Lowest log level written (JULES_LOG_LEVEL, default info).")
    var logLevel: String?

    func run() async throws {
        let level = try LogSetup.level(flag: logLevel)
        LogSetup.bootstrap(level: level)
        let logger = Logger(label: "jules.migrate")
        let storage: Storage
        do {
            storage = try await Storage.connect(StorageSettings(), withRedis: false, logger: logger)
        } catch let failure as StartupFailure {
            logger.critical("jules migrate could not start", metadata: ["error": .string(failure.description)])
            throw ExitCode.failure
        }
        let migrator = Migrator(database: storage.database, migrations: try Migration.embedded(), logger: logger)
        do {
            if status {
                for entry in try await migrator.status() {
                    print("\(entry.appliedAt.map { "applied \($0)" } ?? "pending")\t\(entry.migration.name)")
                }
            } else {
                let applied = try await migrator.migrate()
                print(applied.isEmpty ? "no pending migrations" : "applied \(applied.joined(separator: ", "))")
            }
        } catch {
            logger.critical("migration failed", metadata: ["error": .string(String(describing: error))])
            await storage.shutdown()
            throw ExitCode.failure
        }
        await storage.shutdown()
    }
}
