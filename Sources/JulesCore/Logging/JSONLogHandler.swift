import JSONRPC
import Logging

/// Writes each log event as one JSON object on one line: `time`, `level`, `message`, `correlation_id` when the
/// event has one, `logger`, then the rest of the metadata in key order.
///
/// Anything in the message, the error or a string value that looks like a phone number is masked
/// (``PhoneNumberRedaction``).
///
/// Values are written as JSON strings, arrays and objects (numbers and booleans stay typed); newlines in them are
/// escaped, so one event is always one line and a log line cannot be forged by a value. The line is written
/// straight into bytes, without building a dictionary: it is on the path of every request.
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
        // Later sources win: the handler's own metadata, then the provider's, then the event's.
        var fields: [(key: String, value: Logger.MetadataValue)] = []
        fields.reserveCapacity(metadata.count + (event.metadata?.count ?? 0) + 2)
        func add(_ source: Logger.Metadata?) {
            guard let source else { return }
            for (key, value) in source {
                if let index = fields.firstIndex(where: { $0.key == key }) {
                    fields[index].value = value
                } else {
                    fields.append((key, value))
                }
            }
        }
        add(metadata)
        add(metadataProvider?.get())
        add(event.metadata)
        fields.sort { $0.key < $1.key }

        var line = [UInt8]()
        line.reserveCapacity(256)
        line.append(contentsOf: #"{"time":""#.utf8)
        line.append(contentsOf: LogTimestamp.now().utf8)
        line.append(contentsOf: #"","level":""#.utf8)
        line.append(contentsOf: event.level.rawValue.utf8)
        line.append(contentsOf: #"","message":"#.utf8)
        JSONValue.string(PhoneNumberRedaction.redact(event.message.description)).serialize(into: &line)
        if let correlationID = fields.first(where: { $0.key == "correlation_id" }) {
            line.append(contentsOf: #","correlation_id":"#.utf8)
            Self.json(correlationID.value).serialize(into: &line)
        }
        line.append(contentsOf: #","logger":"#.utf8)
        JSONValue.string(label).serialize(into: &line)
        if let error = event.error {
            line.append(contentsOf: #","error":"#.utf8)
            JSONValue.string(PhoneNumberRedaction.redact(String(describing: error))).serialize(into: &line)
        }
        for (key, value) in fields
        where key != "correlation_id" && key != "logger" && (key != "error" || event.error == nil) {
            line.append(UInt8(ascii: ","))
            JSONValue.string(key).serialize(into: &line)
            line.append(UInt8(ascii: ":"))
            Self.json(value).serialize(into: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        sink.write(line, immediately: event.level >= .warning)
    }

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(PhoneNumberRedaction.redact(text))
        case .stringConvertible(let convertible):
            // Numbers and booleans stay typed, so `duration_ms` can be summed without parsing strings.
            switch convertible {
            case let number as Int: JSONValue(number)
            case let number as Double where number.isFinite: JSONValue(number)
            case let flag as Bool: .bool(flag)
            default: .string(PhoneNumberRedaction.redact(convertible.description))
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
    /// - Parameter immediately: Whether the line, and every line before it, must be written before this returns
    ///   (warnings and errors); other lines may wait briefly to be written together.
    func write(_ line: [UInt8], immediately: Bool)
}
