import Foundation
import Logging
import Postgres
import Testing

/// How the tests reach a real PostgreSQL: `JULES_TEST_DATABASE_URL` (required by the database suites, which are
/// skipped without it) and `JULES_TEST_SERVICES` (a command run as `$JULES_TEST_SERVICES postgres restart`, required
/// by the restart test only).
enum TestDatabase {
    static let url = ProcessInfo.processInfo.environment["JULES_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let services = ProcessInfo.processInfo.environment["JULES_TEST_SERVICES"].flatMap {
        $0.isEmpty ? nil : $0
    }
    static var isConfigured: Bool { url != nil }
    static let skipReason: Comment = "JULES_TEST_DATABASE_URL is not set; these tests need a real PostgreSQL"

    static let logger: Logger = {
        var logger = Logger(label: "PostgresTests")
        // JULES_TEST_LOG_LEVEL=debug shows connection events while debugging a test.
        let level = ProcessInfo.processInfo.environment["JULES_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        return logger
    }()

    static func configuration(
        _ adjust: (inout PostgresConfiguration) -> Void = { _ in }
    ) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(connectionString: try #require(url))
        configuration.poolSize = 4
        adjust(&configuration)
        return configuration
    }

    /// Runs `body` with a fresh client (on `configuration`, or the default test configuration) and always shuts it
    /// down.
    static func withClient<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ configuration: PostgresConfiguration? = nil,
        _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: try configuration ?? Self.configuration(), logger: logger)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// A table name no other test (running in parallel) uses.
    static func uniqueName(_ prefix: String) -> String {
        "test_\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs the services script (`postgres restart`, …) and waits for it without blocking a cooperative thread.
    static func runServices(_ arguments: String) async throws {
        let command = try #require(services, "JULES_TEST_SERVICES is not set")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // Foundation learns that a child exited when every copy of a socket it hands the child is closed; a daemon
        // started by the command (pg_ctl's postgres) would inherit that socket and keep it open for ever. So the
        // command runs in a subshell that first closes every descriptor above stderr. The variable holds a command
        // with arguments ("scripts/services DIR"), hence eval.
        let script =
            #"( for fd in /proc/self/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done; "#
            + #"eval "$1" )"#
        process.arguments = ["-c", script, "jules-test-services", "\(command) \(arguments)"]
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: -1)
            }
        }
        #expect(status == 0, "\(command) \(arguments) exited with \(status)")
    }
}

/// Expects `body` to throw a ``PostgresError`` and returns it.
func expectPostgresError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> PostgresError? {
    do {
        try await body()
        Issue.record("expected a PostgresError, got success", sourceLocation: sourceLocation)
    } catch let error as PostgresError {
        return error
    } catch {
        Issue.record("expected a PostgresError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
