/// One value of a result, as a ``PostgresDecodable`` conformance sees it.
public struct PostgresCell: Sendable {
    /// The value in PostgreSQL's text format, or `nil` for SQL NULL.
    public let bytes: ArraySlice<UInt8>?
    /// The column's type.
    public let type: PostgresDataType
    /// The column's name, for error messages.
    public let columnName: String

    /// Creates a cell; the library makes these, the initialiser is public for custom conformances' tests.
    public init(bytes: ArraySlice<UInt8>?, type: PostgresDataType, columnName: String) {
        self.bytes = bytes
        self.type = type
        self.columnName = columnName
    }

    /// The value's bytes.
    ///
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/decodingFailed`` naming the column when the value
    ///   is NULL.
    public func nonNullBytes<T>(for target: T.Type) throws(PostgresError) -> ArraySlice<UInt8> {
        guard let bytes else {
            throw PostgresError(
                code: .decodingFailed,
                message: "column \"\(self.columnName)\" is NULL; decode it as \(T.self)? to accept NULL"
            )
        }
        return bytes
    }

    /// The value as text (every text-format value is UTF-8).
    public func nonNullText<T>(for target: T.Type) throws(PostgresError) -> String {
        String(decoding: try self.nonNullBytes(for: target), as: UTF8.self)
    }

    /// The error to throw when a value of this column's type cannot become `target`; it never quotes the value.
    public func mismatch<T>(_ target: T.Type, detail: String? = nil) -> PostgresError {
        let reason = detail.map { ": \($0)" } ?? ""
        return PostgresError(
            code: .decodingFailed,
            message: "column \"\(self.columnName)\" of type \(self.type) cannot be decoded as \(T.self)\(reason)"
        )
    }
}
