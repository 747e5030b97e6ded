/// One row of ``PostgresRows``.
public struct PostgresRow: Sendable {
    let storage: RowStorage
    let row: Int

    /// The column names, in order.
    public var columns: [String] { self.storage.columns }

    /// Decodes the value of the column with this name (the first one, if several share it).
    ///
    /// - Parameters:
    ///   - column: The column name as the result names it (an alias, if the query gives one).
    ///   - type: The type to decode; `Optional` types turn NULL into `nil`.
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/decodingFailed`` when the column does not exist,
    ///   holds NULL for a non-optional type, or cannot be read as `T`; the message names the column.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let index = self.storage.columns.firstIndex(of: column) else {
            throw PostgresError(code: .decodingFailed, message: "the result has no column \"\(column)\"")
        }
        return try T.decode(from: self.storage.cell(row: self.row, column: index))
    }

    /// Decodes the value of the column at this position (0-based).
    ///
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/decodingFailed``, as ``decode(_:as:)-(String,_)``.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard self.storage.columns.indices.contains(column) else {
            throw PostgresError(
                code: .decodingFailed,
                message: "the result has no column at index \(column) (it has \(self.storage.columns.count))"
            )
        }
        return try T.decode(from: self.storage.cell(row: self.row, column: column))
    }
}
