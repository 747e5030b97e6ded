import Logging
import Synchronization

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

    /// A new id, unique across processes and time: a random 64-bit prefix chosen once per process and a 64-bit
    /// counter, in the shape of a UUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    ///
    /// Ids name requests; they guard nothing, so they need to be unique, not unpredictable. Drawing 128 random
    /// bits for every request cost two `getrandom` system calls on the hot path.
    public static func generate() -> String {
        // The counter goes through a bijective mix, so ids stay unique but do not reveal request counts.
        var sequence = counter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        sequence = (sequence ^ (sequence >> 31)) &* 0xBF58_476D_1CE4_E5B9
        sequence ^= sequence >> 29
        let prefix = processPrefix
        // The UUID layout (8-4-4-4-12 hex digits), written straight into the string's storage.
        return String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for nibble in 0..<32 {
                if position == 8 || position == 13 || position == 18 || position == 23 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                let word = nibble < 16 ? prefix : sequence
                let digit = UInt8(truncatingIfNeeded: (word >> UInt64(60 - (nibble % 16) * 4)) & 0xF)
                text[position] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                position += 1
            }
            return position
        }
    }

    private static let processPrefix: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

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
