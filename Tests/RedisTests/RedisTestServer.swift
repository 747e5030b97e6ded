import Foundation
import Logging
import Testing

@testable import Redis

/// How the tests reach the real Redis they run against.
///
/// - `JULES_TEST_REDIS_URL`: the server's URL; the suites that need a server are skipped without it.
/// - `JULES_TEST_SERVICES`: a command prefix; `$JULES_TEST_SERVICES redis restart` restarts that server.
enum RedisTestServer {
    static let url = ProcessInfo.processInfo.environment["JULES_TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let services = ProcessInfo.processInfo.environment["JULES_TEST_SERVICES"].flatMap {
        $0.isEmpty ? nil : $0
    }

    static var isConfigured: Bool { url != nil }
    static var canRestart: Bool { url != nil && services != nil }

    static let logger: Logger = {
        var logger = Logger(label: "RedisTests")
        logger.logLevel = .critical
        return logger
    }()

    /// The test server's configuration, with the pool settings a test asks for. The command timeout is generous
    /// (the tests of timeouts set their own): under a loaded CI run, 2 s once failed a test whose 50 scripts queued
    /// for the pool's connections.
    static func configuration(
        poolSize: Int = 10,
        threadCount: Int? = nil,
        commandTimeout: Duration = .seconds(10),
        acquireTimeout: Duration = .seconds(5),
        database: Int = 0,
        password: String? = nil
    ) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: try #require(url))
        configuration.poolSize = poolSize
        configuration.threadCount = threadCount
        configuration.commandTimeout = commandTimeout
        configuration.acquireTimeout = acquireTimeout
        configuration.database = database
        if let password {
            configuration.password = password
        }
        return configuration
    }

    /// Runs `body` with a new client, and shuts the client down afterwards whatever happens.
    static func withClient<Value>(
        _ configuration: RedisConfiguration? = nil,
        _ body: (RedisClient) async throws -> Value
    ) async throws -> Value {
        let client = RedisClient(configuration: try configuration ?? Self.configuration(), logger: logger)
        do {
            let value = try await body(client)
            await client.shutdown()
            return value
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// A key no other test uses, so tests can run at the same time without a FLUSHALL.
    static func key(_ name: String = #function) -> String {
        "jules-test:\(name.prefix { $0 != "(" }):\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Restarts the server: `/bin/sh -c "$JULES_TEST_SERVICES redis restart"`.
    ///
    /// Not with Foundation's `Process`: on Linux it learns that the child exited when a socket it leaves open
    /// in the child closes, and the daemonised redis-server inherits that socket, so the wait never ends
    /// (swift-corelibs-foundation issue 4795). `posix_spawn` with every descriptor above 2 closed avoids it.
    static func restart() async throws {
        let command = try #require(services) + " redis restart"
        let status = try await runShell(command)
        #expect(status == 0, "'\(command)' exited with status \(status)")
    }

    private static func runShell(_ command: String) async throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // closefrom is not imported into Swift: close each descriptor open now. glibc ignores a close action
        // for a descriptor that is no longer open by the time of the spawn.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
        for descriptor in open where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer {
            for argument in argv {
                free(argument)
            }
        }
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ)
        guard spawned == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
        }
        // waitpid blocks: run it on a thread of its own, not on the Swift concurrency pool, nor on Dispatch's global
        // queue, whose few threads (one per core on Linux) a few such waits would take from every other test.
        let child = pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                // WEXITSTATUS, a macro Swift does not import.
                continuation.resume(returning: (status >> 8) & 0xFF)
            }
        }
    }
}

/// The thrown error as a `RedisError`, or `nil` if `body` did not throw. (Closures do not infer typed throws,
/// so `body` throws untyped; any other error is recorded as an issue.)
func redisError<Value>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Value
) async -> RedisError? {
    do {
        _ = try await body()
        return nil
    } catch let error as RedisError {
        return error
    } catch {
        Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Elapsed seconds as a `Double`, for readable bounds in expectations.
extension Duration {
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
