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

        var line = Self.startLine(level: event.level, message: event.message.description)
        if let correlationID = fields.first(where: { $0.key == "correlation_id" }) {
            Self.appendField("correlation_id", Self.json(correlationID.value), to: &line)
        }
        Self.appendField("logger", .string(label), to: &line)
        if let error = event.error {
            Self.appendField("error", .string(PhoneNumberRedaction.redact(String(describing: error))), to: &line)
        }
        for (key, value) in fields where key != "correlation_id" && (key != "error" || event.error == nil) {
            // Metadata never takes the place of the line's own fields: a reader that keeps the last of two equal
            // keys would otherwise see another level or message.
            let name = Self.lineFields.contains(key) ? "metadata." + key : key
            // Keys are the code's own names, but a dictionary keyed by something a client sent may reach here.
            Self.appendField(PhoneNumberRedaction.redact(name), Self.json(value), to: &line)
        }
        Self.endLine(&line)
        sink.write(line, immediately: event.level >= .warning)
    }

    /// The fields every line has, which metadata may not repeat.
    private static let lineFields: Set<String> = ["time", "level", "message", "logger"]

    // MARK: The pieces of a line, shared with JSONRequestLog

    /// `{"time":"…","level":"…","message":"…"`, the message masked.
    static func startLine(level: Logger.Level, message: String) -> [UInt8] {
        var line = [UInt8]()
        line.reserveCapacity(256)
        line.append(contentsOf: #"{"time":""#.utf8)
        LogTimestamp.write(into: &line)
        line.append(contentsOf: #"","level":""#.utf8)
        line.append(contentsOf: level.rawValue.utf8)
        line.append(contentsOf: #"","message":"#.utf8)
        appendMaskedString(message, to: &line)
        return line
    }

    /// `,"key":value`; the value as it is (strings already masked by the caller).
    static func appendField(_ key: String, _ value: JSONValue, to line: inout [UInt8]) {
        line.append(UInt8(ascii: ","))
        JSONValue.string(key).serialize(into: &line)
        line.append(UInt8(ascii: ":"))
        value.serialize(into: &line)
    }

    /// Appends `text` as a JSON string, masked: its bytes as they are when nothing in them needs escaping or
    /// masking (the common case: ids, method names, error types), else through ``PhoneNumberRedaction`` and the
    /// JSON writer. Either way the bytes are those of `JSONValue.string(PhoneNumberRedaction.redact(text))`.
    static func appendMaskedString(_ text: String, to line: inout [UInt8]) {
        var text = text
        let plain = text.withUTF8 { bytes in
            guard !PhoneNumberRedaction.mayMask(bytes) else { return false }
            for byte in bytes
            where byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            line.append(UInt8(ascii: "\""))
            line.append(contentsOf: bytes)
            line.append(UInt8(ascii: "\""))
            return true
        }
        if !plain {
            JSONValue.string(PhoneNumberRedaction.redact(text)).serialize(into: &line)
        }
    }

    static func endLine(_ line: inout [UInt8]) {
        line.append(contentsOf: "}\n".utf8)
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
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
            .object(
                JSONObject(dictionary.keys.sorted().map { (PhoneNumberRedaction.redact($0), json(dictionary[$0]!)) }))
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

/// The router's request lines written straight into the format of ``JSONLogHandler``, without the metadata
/// dictionary and merge a swift-log event needs: the same bytes `JSONLogHandler(label:)` writes for
/// ``SwiftLogRequestLog``'s event from a logger without metadata of its own.
public struct JSONRequestLog: RequestLog {
    private let sink: any LogSink
    /// `,"logger":"…"`, written once.
    private let loggerField: [UInt8]

    public init(label: String, sink: any LogSink = StandardErrorLogSink.shared) {
        self.sink = sink
        var field: [UInt8] = []
        JSONLogHandler.appendField("logger", .string(label), to: &field)
        self.loggerField = field
    }

    public func write(_ request: RequestLogLine) {
        // The fields in the handler's order: time, level, message, correlation_id, logger, then the rest by key.
        var line = JSONLogHandler.startLine(level: request.level, message: "request")
        line.append(contentsOf: #","correlation_id":"#.utf8)
        JSONLogHandler.appendMaskedString(request.correlationID, to: &line)
        line.append(contentsOf: loggerField)
        // As the handler writes a `Double` given as `.stringConvertible`, without the casts that find it is one.
        let duration = request.durationMilliseconds
        line.append(contentsOf: #","duration_ms":"#.utf8)
        if duration.isFinite {
            line.append(contentsOf: duration.description.utf8)
        } else {
            JSONLogHandler.appendMaskedString(duration.description, to: &line)
        }
        if let errorType = request.errorType {
            line.append(contentsOf: #","error_type":"#.utf8)
            JSONLogHandler.appendMaskedString(errorType, to: &line)
        }
        line.append(contentsOf: #","method":"#.utf8)
        JSONLogHandler.appendMaskedString(request.method, to: &line)
        JSONLogHandler.endLine(&line)
        sink.write(line, immediately: request.level >= .warning)
    }
}
