import ArgumentParser
import Logging
import Postgres

/// The read-only load of `pgbench -S` through PostgresClient: each task runs the single-row primary-key SELECT
/// with a random key, on a pool of as many connections as tasks. Initialise the tables with `pgbench -i -s SCALE`.
struct PostgresBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "pgbench -S's SELECT through the Postgres module's pool."
    )

    @Option(help: "PostgreSQL URL or conninfo (default: JULES_DATABASE_URL).")
    var url: String?

    @Option(name: .customShort("c"), help: "Concurrent tasks, and the pool's size.")
    var clients = 8

    @Option(help: "Seconds to run.")
    var duration = 10.0

    @Option(help: "pgbench's scale factor (100,000 accounts per unit).")
    var scale = 1

    func run() async throws {
        guard let url = url ?? Environment.variable("JULES_DATABASE_URL") else {
            throw ValidationError("give --url or set JULES_DATABASE_URL")
        }
        var configuration = try PostgresConfiguration(connectionString: url)
        configuration.poolSize = clients
        var logger = Logger(label: "jules-bench")
        logger.logLevel = .warning
        let client = PostgresClient(configuration: configuration, logger: logger)
        try await client.connect(retryFor: .seconds(10))
        let accounts = Int64(100_000 * scale)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(duration * 1000))
        let total: Int
        do {
            total = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<clients {
                    group.addTask {
                        var random = SplitMix64(state: UInt64(task + 1) &* 0x1234_5678_9ABC_DEF1)
                        var count = 0
                        while clock.now < deadline {
                            let aid = Int64.random(in: 1...accounts, using: &random)
                            let rows = try await client.query(
                                "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                                [.int(aid)]
                            )
                            // Decoding is part of what a caller pays for.
                            _ = try rows.first?.decode("abalance", as: Int64.self)
                            count += 1
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
        } catch {
            await client.shutdown()
            throw error
        }
        let elapsed = seconds(clock.now - start)
        await client.shutdown()
        let rate = Double(total) / elapsed
        print("postgres SELECT by primary key: \(clients) clients, \(total) transactions, tps \(Int(rate.rounded()))")
        print(
            #"{"label":"postgres select","clients":\#(clients),"transactions":\#(total),"tps":\#(Int(rate.rounded()))}"#
        )
    }
}
