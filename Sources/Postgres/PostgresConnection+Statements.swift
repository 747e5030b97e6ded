import CLibPQ

extension PostgresConnection {
    /// Sends one statement and returns libpq's result (the caller clears it). Called under `lock`.
    ///
    /// Without parameters: `PQexec` (simple protocol, several statements allowed). With parameters: a statement
    /// prepared once per connection and run with `PQexecPrepared`, or `PQexecParams` when the cache is disabled.
    func send(_ sql: String, _ parameters: EncodedParameters, on handle: OpaquePointer) -> OpaquePointer? {
        guard parameters.count > 0 else { return PQexec(handle, sql) }
        guard self.statements.isEnabled else { return Self.executeUnprepared(sql, parameters, on: handle) }
        let key = PreparedStatementCache.Key(sql: sql, types: parameters.types)
        let result = self.executePrepared(key, parameters, on: handle)
        // 26000: our statement is gone (the application ran DEALLOCATE/DISCARD ALL); 0A000: "cached plan must not
        // change result type" after a schema change. Forget it; outside a transaction block the failed statement
        // had no effect, so preparing it anew and retrying once is safe.
        guard let result, PQresultStatus(result) == PGRES_FATAL_ERROR,
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map({ String(cString: $0) }),
            state == "26000" || state == "0A000"
        else { return result }
        self.statements.remove(key)
        guard PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) == PQTRANS_IDLE else { return result }
        PQclear(result)
        return self.executePrepared(key, parameters, on: handle)
    }

    private func executePrepared(
        _ key: PreparedStatementCache.Key,
        _ parameters: EncodedParameters,
        on handle: OpaquePointer
    ) -> OpaquePointer? {
        let name: String
        if let cached = self.statements.name(for: key) {
            name = cached
        } else {
            if self.statements.isFull {
                guard Self.succeeds(PQexec(handle, "DEALLOCATE ALL")) else {
                    // E.g. inside a failed transaction: run this one unprepared and let the server report.
                    return Self.executeUnprepared(key.sql, parameters, on: handle)
                }
                self.statements.removeAll()
            }
            name = self.statements.insert(key)
            let prepared = PQprepare(handle, name, key.sql, Int32(parameters.count), parameters.types)
            guard let prepared, PQresultStatus(prepared) == PGRES_COMMAND_OK else {
                // A syntax error, an unknown table, …: the result carries the server's error for the caller.
                self.statements.remove(key)
                return prepared
            }
            PQclear(prepared)
        }
        return parameters.withValuePointers { values in
            PQexecPrepared(handle, name, Int32(parameters.count), values, parameters.lengths, parameters.formats, 0)
        }
    }

    private static func executeUnprepared(
        _ sql: String,
        _ parameters: EncodedParameters,
        on handle: OpaquePointer
    ) -> OpaquePointer? {
        parameters.withValuePointers { values in
            PQexecParams(
                handle,
                sql,
                Int32(parameters.count),
                parameters.types,
                values,
                parameters.lengths,
                parameters.formats,
                0
            )
        }
    }

    private static func succeeds(_ result: OpaquePointer?) -> Bool {
        guard let result else { return false }
        defer { PQclear(result) }
        return PQresultStatus(result) == PGRES_COMMAND_OK
    }
}
