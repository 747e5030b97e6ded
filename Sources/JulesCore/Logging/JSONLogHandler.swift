#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import JSONRPC
import Logging

/// Writes each log event as one JSON object on one line: `time`, `level`, `message`, `correlation_id` when the
/// event has one, then the rest of the metadata.
///
/// Values are written as JSON strings, arrays and objects; newlines in them are escaped, so one event is always
/// one line and a log line cannot be forged by a value.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: any LogSink

    /// - Parameters:
    ///   - label: The logger's label, written as `logger`.
    ///   - level: The lowest level written.
    ///   - sink: Where lines go; standard error by default.
    ///   - metadataProvider: Adds contextual metadata (the correlation id) to every event.
    public init(
        label: String,
        level: Logger.Level = .info,
        sink: any LogSink = StandardErrorLogSink.shared,
        metadataProvider: Logger.MetadataProvider? = CorrelationID.metadataProvider
    ) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let eventMetadata = event.metadata {
            merged.merge(eventMetadata) { _, new in new }
        }
        var object: JSONObject = [
            "time": .string(LogTimestamp.now()),
            "level": .string(event.level.rawValue),
            "message": .string(event.message.description),
        ]
        if let correlationID = merged.removeValue(forKey: "correlation_id") {
            object["correlation_id"] = Self.json(correlationID)
        }
        object["logger"] = .string(label)
        if let error = event.error {
            object["error"] = .string(String(describing: error))
        }
        for key in merged.keys.sorted() {
            object[key] = Self.json(merged[key]!)
        }
        var line = [UInt8]()
        line.reserveCapacity(256)
        JSONValue.object(object).serialize(into: &line)
        line.append(UInt8(ascii: "\n"))
        sink.write(line)
    }

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible):
            // Numbers and booleans stay typed, so `duration_ms` can be summed without parsing strings.
            switch convertible {
            case let number as Int: JSONValue(number)
            case let number as Double where number.isFinite: JSONValue(number)
            case let flag as Bool: .bool(flag)
            default: .string(convertible.description)
            }
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary):
            .object(JSONObject(dictionary.keys.sorted().map { ($0, json(dictionary[$0]!)) }))
        }
    }
}

/// A destination for complete log lines.
public protocol LogSink: Sendable {
    /// Writes one line, newline included, without interleaving it with other lines.
    func write(_ line: [UInt8])
}

/// Standard error, written with one `write(2)` per line under a lock so concurrent lines never interleave.
public final class StandardErrorLogSink: LogSink {
    public static let shared = StandardErrorLogSink()
    private let lock = LogLock()

    public func write(_ line: [UInt8]) {
        lock.withLock {
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = writeToStandardError(bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // Nowhere left to report a failure to log.
                    }
                    offset += written
                }
            }
        }
    }
}

/// `write(2)` on standard error, named apart from ``StandardErrorLogSink/write(_:)``.
private func writeToStandardError(_ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(STDERR_FILENO, pointer, count)
}
