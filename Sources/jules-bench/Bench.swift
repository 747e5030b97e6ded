import ArgumentParser

/// Load generators for the benchmarks in the README: each prints a human summary and then one JSON line, so
/// scripts/bench can put the figure beside its reference (redis-server, pgbench, redis-benchmark) as a ratio.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jules-bench",
        abstract: "Load generators for Jules core and for the storage wrappers it is built on.",
        subcommands: [SocketBench.self, PostgresBench.self, RedisBench.self, LineServer.self],
        defaultSubcommand: SocketBench.self
    )
}

/// Seconds in a duration, as a Double.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// SplitMix64: the system generator would make a getrandom(2) call per number, which a benchmark loop would measure.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
