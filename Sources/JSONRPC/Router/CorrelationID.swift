import Logging

/// The correlation id of the work in progress, carried by the task tree that serves a request.
///
/// The router binds it around each handler, so the handler, the tasks it starts in structured concurrency and
/// every log line written on their behalf see the same id. Background work that outlives a request stores the id
/// with the job and binds it again with ``withValue(_:operation:)``.
public enum CorrelationID {
    @TaskLocal public static var current: String?

    /// The longest correlation id a client may send.
    public static let maximumLength = 128

    /// Runs `operation` with `id` as the current correlation id.
    public static func withValue<T: Sendable>(
        _ id: String,
        operation: () async throws -> T
    ) async rethrows -> T {
        try await $current.withValue(id, operation: operation)
    }

    /// A new random id (a version 4 UUID in lower-case text).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, word) in [high, low].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 { text.append(0x2D) }
                text.append(digits[Int((word >> UInt64(60 - nibble * 4)) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether a client's id may be used as it is: 1 to 128 characters of letters, digits and `.`, `_`, `:`, `-`.
    /// Anything else could forge log lines or smuggle data into them.
    public static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// A swift-log metadata provider that adds `correlation_id` to every line written inside a request.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let id = CorrelationID.current else { return [:] }
        return ["correlation_id": .string(id)]
    }
}
