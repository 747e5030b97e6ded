/// The values of one result, copied out of libpq's `PGresult` on the thread pool so that the `PGresult` can be freed
/// there and nothing C crosses into the caller's task.
///
/// All values share one byte buffer (one allocation per result rather than one per cell). Immutable, hence
/// `Sendable` without ceremony.
final class RowStorage: Sendable {
    let columns: [String]
    let types: [PostgresDataType]
    let rowCount: Int
    /// The text-format bytes of every non-NULL cell, row after row.
    let bytes: [UInt8]
    /// Where each cell starts in `bytes`, indexed by `row * columns.count + column`.
    let starts: [Int]
    /// Each cell's length, or -1 for NULL.
    let lengths: [Int32]

    init(
        columns: [String],
        types: [PostgresDataType],
        rowCount: Int,
        bytes: [UInt8],
        starts: [Int],
        lengths: [Int32]
    ) {
        self.columns = columns
        self.types = types
        self.rowCount = rowCount
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
    }

    static let empty = RowStorage(columns: [], types: [], rowCount: 0, bytes: [], starts: [], lengths: [])

    func cell(row: Int, column: Int) -> PostgresCell {
        let index = row * self.columns.count + column
        let length = Int(self.lengths[index])
        let start = self.starts[index]
        return PostgresCell(
            bytes: length < 0 ? nil : self.bytes[start..<start + length],
            type: self.types[column],
            columnName: self.columns[column]
        )
    }
}
