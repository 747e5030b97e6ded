import ArgumentParser
import JSONRPC
import JulesCore
import Logging

/// JSON log lines on standard error, with the correlation id of the work in progress.
enum LogSetup {
    /// The level from `--log-level`, else `JULES_LOG_LEVEL`, else `info`.
    static func level(flag: String?) throws -> Logger.Level {
        let text = flag ?? Environment.string("JULES_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError(
                "--log-level (JULES_LOG_LEVEL) must be one of trace, debug, info, notice, warning, error, critical"
            )
        }
        return level
    }

    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap(
            { label, provider in JSONLogHandler(label: label, level: level, metadataProvider: provider) },
            metadataProvider: CorrelationID.metadataProvider
        )
    }
}
