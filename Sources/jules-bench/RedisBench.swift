import ArgumentParser
import Logging
import Redis

/// GET of one key through RedisClient from N tasks (pool of N connections), to compare with
/// `redis-benchmark -t get -c N` against the same server.
struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "GET through the Redis module's pool, beside redis-benchmark -t get."
    )

    @Option(help: "Redis URL (default: JULES_REDIS_URL).")
    var url: String?

    @Option(help: "Concurrent tasks, and the pool's size.")
    var concurrency = 50

    @Option(help: "Seconds to run.")
    var duration = 5.0

    @Option(help: "Threads of the client's pool (default: one per connection).")
    var threads: Int?

    func run() async throws {
        guard let url = url ?? Environment.variable("JULES_REDIS_URL") else {
            throw ValidationError("give --url or set JULES_REDIS_URL")
        }
        var configuration = try RedisConfiguration(url: url)
        configuration.poolSize = concurrency
        configuration.threadCount = threads
        var logger = Logger(label: "jules-bench")
        logger.logLevel = .warning
        let client = RedisClient(configuration: configuration, logger: logger)
        let key: RedisArgument = "jules-bench:key"
        try await client.connect(retryFor: .seconds(5))
        // Three bytes, like redis-benchmark's default value size (-d 3).
        try await client.set(key, "xxx")
        // Warm-up: open every connection so the timed part measures steady state.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { _ = try await client.get(key) }
            }
            try await group.waitForAll()
        }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(duration * 1000))
        let (done, failed) = await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var done = 0
                    var failed = 0
                    while clock.now < deadline {
                        do {
                            _ = try await client.get(key)
                            done += 1
                        } catch {
                            failed += 1
                        }
                    }
                    return (done, failed)
                }
            }
            return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        let elapsed = seconds(clock.now - start)
        await client.shutdown()
        let rate = Double(done) / elapsed
        print("redis GET: \(concurrency) tasks, \(done) requests, \(failed) errors, requests/s \(Int(rate.rounded()))")
        print(
            #"{"label":"redis get","concurrency":\#(concurrency),"requests":\#(done),"errors":\#(failed),"rps":\#(Int(rate.rounded()))}"#
        )
    }
}
