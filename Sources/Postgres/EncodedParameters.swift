#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Parameters laid out the way `PQexecParams` wants them, built before the blocking call so that the thread pool
/// only does I/O.
///
/// Every value lives in one byte buffer: text values end with the NUL that libpq looks for, `bytea` values are raw
/// bytes with an explicit length (binary format), which avoids doubling their size in hex.
struct EncodedParameters: Sendable {
    private(set) var buffer: [UInt8] = []
    /// Start of each value in `buffer`, or `nil` for SQL NULL.
    private(set) var offsets: [Int?] = []
    private(set) var lengths: [Int32] = []
    private(set) var formats: [Int32] = []
    private(set) var types: [UInt32] = []

    var count: Int { self.offsets.count }

    /// No parameters: the statement goes through `PQexec`.
    static let none = EncodedParameters()

    private init() {}

    init(_ values: [PostgresValue]) throws(PostgresError) {
        self.offsets.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                self.offsets.append(nil)
                self.lengths.append(0)
                self.formats.append(0)
                self.types.append(value.parameterType.oid)
            case .bytes(let bytes):
                try self.append(bytes, binary: true, type: value.parameterType, index: index)
            case .bool(let bool):
                try self.append(bool ? "t".utf8 : "f".utf8, binary: false, type: value.parameterType, index: index)
            case .int(let int):
                try self.append(String(int).utf8, binary: false, type: value.parameterType, index: index)
            case .double(let double):
                try self.append(Self.text(of: double).utf8, binary: false, type: value.parameterType, index: index)
            case .text(let text), .json(let text):
                try self.append(text.utf8, binary: false, type: value.parameterType, index: index)
            case .uuid(let uuid):
                try self.append(uuid.uuidString.utf8, binary: false, type: value.parameterType, index: index)
            case .timestamp(let timestamp):
                try self.append(timestamp.postgresText.utf8, binary: false, type: value.parameterType, index: index)
            }
        }
        // Keeps the buffer non-empty, so that its base address (and with it the pointer of an empty bytea, which
        // must not be NULL since NULL means SQL NULL) exists.
        self.buffer.append(0)
    }

    private mutating func append(
        _ bytes: some Collection<UInt8>,
        binary: Bool,
        type: PostgresDataType,
        index: Int
    ) throws(PostgresError) {
        // A text-format value ends at its first NUL, so one inside would silently cut it short; PostgreSQL's text
        // types cannot store NUL anyway, so fail the way the server would (character_not_in_repertoire).
        if !binary, bytes.contains(0) {
            throw PostgresError(
                code: .queryFailed,
                message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot store",
                sqlState: "22021"
            )
        }
        guard bytes.count < Int32.max else {
            throw PostgresError(code: .queryFailed, message: "parameter $\(index + 1) is larger than 2 GiB")
        }
        self.offsets.append(self.buffer.count)
        self.lengths.append(Int32(bytes.count))
        self.formats.append(binary ? 1 : 0)
        self.types.append(type.oid)
        self.buffer.append(contentsOf: bytes)
        if !binary { self.buffer.append(0) }
    }

    /// Calls `body` with the `const char *const *paramValues` array libpq expects (NULL entries for SQL NULL).
    func withValuePointers<T>(_ body: ([UnsafePointer<CChar>?]) -> T) -> T {
        self.buffer.withUnsafeBytes { buffer in
            // The buffer is never empty (see init), so its base address exists.
            let base = buffer.baseAddress!
            let values = self.offsets.map { offset in
                offset.map { base.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            }
            return body(values)
        }
    }

    /// Swift's shortest round-tripping form, with PostgreSQL's spelling of the special values.
    private static func text(of double: Double) -> String {
        if double.isNaN { return "NaN" }
        if double.isInfinite { return double < 0 ? "-Infinity" : "Infinity" }
        return double.description
    }
}
