/// The rows a statement returned, already read completely from the server.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// The result's column names, in order.
    public let columns: [String]
    /// Rows returned by a `SELECT`, or rows changed by `INSERT`/`UPDATE`/`DELETE`/`MERGE`; 0 for other statements.
    public var affectedRows: Int
    /// The server's command tag, e.g. `INSERT 0 1`, `SELECT 3`, `COMMIT`.
    public let commandTag: String

    let storage: RowStorage

    init(storage: RowStorage, affectedRows: Int, commandTag: String) {
        self.columns = storage.columns
        self.affectedRows = affectedRows
        self.commandTag = commandTag
        self.storage = storage
    }

    /// The type of each column, in the order of ``columns``.
    public var columnTypes: [PostgresDataType] { self.storage.types }

    /// Always 0.
    public var startIndex: Int { 0 }
    /// The number of rows.
    public var endIndex: Int { self.storage.rowCount }

    /// The row at `position` (0-based).
    public subscript(position: Int) -> PostgresRow {
        precondition(self.indices.contains(position), "row index \(position) out of range 0..<\(self.count)")
        return PostgresRow(storage: self.storage, row: position)
    }
}
