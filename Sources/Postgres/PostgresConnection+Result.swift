import CLibPQ

extension PostgresConnection {
    /// Turns a `PGresult` into rows or an error. Runs on the thread pool; the caller frees the result.
    func rows(from result: OpaquePointer?, on handle: OpaquePointer) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw Self.failure(result: nil, on: handle)
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return Self.copyRows(from: result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The session now waits for COPY data this API cannot provide; closing is the only clean way out.
            self.closeAfterStatement = true
            throw PostgresError(code: .queryFailed, message: "COPY FROM STDIN / TO STDOUT is not supported")
        default:
            throw Self.failure(result: result, on: handle)
        }
    }

    private static func copyRows(from result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        let commandTag = String(cString: PQcmdStatus(result))
        guard columnCount > 0 else {
            return PostgresRows(storage: .empty, affectedRows: affectedRows, commandTag: commandTag)
        }
        var columns: [String] = []
        var types: [PostgresDataType] = []
        columns.reserveCapacity(columnCount)
        types.reserveCapacity(columnCount)
        for column in 0..<Int32(columnCount) {
            columns.append(String(cString: PQfname(result, column)))
            types.append(PostgresDataType(oid: PQftype(result, column)))
        }
        let cellCount = rowCount * columnCount
        var bytes: [UInt8] = []
        var starts: [Int] = []
        var lengths: [Int32] = []
        starts.reserveCapacity(cellCount)
        lengths.reserveCapacity(cellCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) != 0 {
                    starts.append(bytes.count)
                    lengths.append(-1)
                    continue
                }
                let length = PQgetlength(result, row, column)
                starts.append(bytes.count)
                lengths.append(length)
                if length > 0, let value = PQgetvalue(result, row, column) {
                    bytes.append(contentsOf: UnsafeRawBufferPointer(start: value, count: Int(length)))
                }
            }
        }
        let storage = RowStorage(
            columns: columns,
            types: types,
            rowCount: rowCount,
            bytes: bytes,
            starts: starts,
            lengths: lengths
        )
        return PostgresRows(storage: storage, affectedRows: affectedRows, commandTag: commandTag)
    }

    /// Builds the error for a failed statement from the result's fields, never from `PQerrorMessage`, which may
    /// quote the statement (`LINE 1: SELECT …`).
    private static func failure(result: OpaquePointer?, on handle: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let code: PostgresError.Code
        let message: String
        if PQstatus(handle) != CONNECTION_OK {
            code = .connectionClosed
            message = "the connection to the server was lost"
        } else if sqlState == "57014" {
            // query_canceled: this client never sends cancel requests, so it was statement_timeout.
            code = .timeout
            message = "the statement was cancelled by statement_timeout"
        } else if result == nil {
            code = .queryFailed
            message = "libpq returned no result (out of memory?)"
        } else {
            code = .queryFailed
            message = "the server rejected the statement"
        }
        return PostgresError(
            code: code,
            message: message,
            sqlState: sqlState,
            serverMessage: field("M"),
            constraint: field("n"),
            table: field("t"),
            column: field("c")
        )
    }
}
