import CLibPQ
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection (`PGconn`), opened lazily and reopened when it is found dead at checkout.
///
/// Every method that touches libpq blocks and must run on the client's thread pool (see ``LibPQThread``).
///
/// `@unchecked Sendable` is safe because all mutable state (`handle`, `transactionIdle`) is read and written only
/// while holding `lock`, and every libpq call on `handle` happens inside that same lock. So even if a caller runs two
/// queries of one transaction concurrently, their jobs reach the `PGconn` one after the other, never from two
/// threads at once, which is what libpq requires of a connection. The pool adds a second guarantee: a connection is
/// leased to one caller at a time.
final class PostgresConnection: @unchecked Sendable {
    let id: Int
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let lock = NIOLock()
    /// The `PGconn *`, or `nil` before the first use and after a failure closed it.
    private var handle: OpaquePointer?
    /// Whether the last statement left the session outside a transaction block.
    private var transactionIdle = true
    /// Set (under `lock`) when a statement left the session in a state this type cannot continue from.
    var closeAfterStatement = false
    /// The statements prepared on the current `handle` (guarded by `lock`; emptied whenever `handle` changes).
    var statements: PreparedStatementCache

    init(id: Int, configuration: PostgresConfiguration, logger: Logger) {
        self.id = id
        self.configuration = configuration
        self.statements = PreparedStatementCache(capacity: configuration.preparedStatementCacheSize)
        var logger = logger
        logger[metadataKey: "postgres.connection"] = "\(id)"
        self.logger = logger
    }

    deinit {
        // Reached with an open handle only when a client is dropped without `shutdown()`; closing here is the lesser
        // evil compared to leaking the socket and the server backend.
        if let handle {
            LibPQThread.check()
            // The notice processor's context is `self`, which is going away.
            PQsetNoticeProcessor(handle, { _, _ in }, nil)
            PQfinish(handle)
        }
    }

    /// Whether the pool may hand this connection to the next caller: open, and not inside a transaction block
    /// (which happens when a `COMMIT`/`ROLLBACK` job was cancelled before it ran).
    var isReusable: Bool {
        self.lock.withLock { self.handle != nil && self.transactionIdle }
    }

    /// Opens the connection if it is closed, reopens it if it died while idle. Called at checkout, before the first
    /// statement of a lease, so that a server restart or a terminated backend costs no failed query.
    func prepareForUse() throws(PostgresError) {
        LibPQThread.check()
        // lock()/unlock() rather than withLock, which is rethrows and would lose the typed error.
        self.lock.lock()
        defer { self.lock.unlock() }
        if let handle = self.handle {
            if Self.isAlive(handle) { return }
            self.logger.notice("dropping a dead idle connection; reconnecting")
            PQfinish(handle)
            self.handle = nil
        }
        self.handle = try self.open()
        self.transactionIdle = true
        self.statements.removeAll()
    }

    /// Runs one statement: `PQexec` without parameters (which also allows several `;`-separated statements), a
    /// cached prepared statement with them (see ``send(_:_:on:)``).
    func execute(_ sql: String, _ parameters: EncodedParameters) throws(PostgresError) -> PostgresRows {
        LibPQThread.check()
        self.lock.lock()
        defer { self.lock.unlock() }
        guard let handle = self.handle else {
            throw PostgresError(code: .connectionClosed, message: "the connection was closed by an earlier error")
        }
        defer { self.updateState(after: handle) }
        let result = self.send(sql, parameters, on: handle)
        defer { if let result { PQclear(result) } }
        return try self.rows(from: result, on: handle)
    }

    /// Closes the connection (sends Terminate to the server); it can be reopened by ``prepareForUse()``.
    func close() {
        LibPQThread.check()
        self.lock.withLock {
            if let handle = self.handle {
                PQfinish(handle)
                self.handle = nil
            }
        }
    }

    /// Remembers whether the session is in a transaction, and frees a broken `PGconn` right away so that the next
    /// lease reconnects instead of failing again.
    private func updateState(after handle: OpaquePointer) {
        if PQstatus(handle) != CONNECTION_OK || self.closeAfterStatement {
            PQfinish(handle)
            self.handle = nil
            self.closeAfterStatement = false
            return
        }
        self.transactionIdle = PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    private func open() throws(PostgresError) -> OpaquePointer {
        let parameters = self.configuration.connectionParameters()
        let keywords = parameters.map { strdup($0.keyword) }
        let values = parameters.map { strdup($0.value) }
        defer {
            for pointer in keywords + values { free(pointer) }
        }
        // NULL-terminated arrays, as PQconnectdbParams expects.
        let keywordPointers = keywords.map { UnsafePointer($0) } + [nil]
        let valuePointers = values.map { UnsafePointer($0) } + [nil]
        guard let connection = PQconnectdbParams(keywordPointers, valuePointers, 0) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let detail = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw self.connectError(detail: detail)
        }
        PQsetNoticeProcessor(connection, noticeProcessor, Unmanaged.passUnretained(self).toOpaque())
        self.logger.debug("connected", metadata: ["postgres.backend_pid": "\(PQbackendPID(connection))"])
        return connection
    }

    private func connectError(detail: String) -> PostgresError {
        let cleaned = Redaction.removing(self.configuration.password, from: detail)
            .split(separator: "\n").map { $0.trimmingWhitespace() }.joined(separator: " ")
        let code: PostgresError.Code = cleaned.contains("timeout expired") ? .timeout : .connectionFailed
        return PostgresError(
            code: code,
            message: "could not connect to \(self.configuration.redactedDescription): \(cleaned)"
        )
    }

    /// An idle connection should receive nothing. Anything readable is either end-of-file or the server's goodbye
    /// (e.g. `FATAL: terminating connection due to administrator command`) followed by end-of-file, so read until
    /// nothing is left and see whether libpq noticed the connection closing. Costs one `poll` when all is well.
    private static func isAlive(_ handle: OpaquePointer) -> Bool {
        let socket = PQsocket(handle)
        guard PQstatus(handle) == CONNECTION_OK, socket >= 0 else { return false }
        for _ in 0..<8 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready == 0 { break }
            if ready < 0 {
                if errno == EINTR { continue }
                return false
            }
            if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK { return false }
        }
        return PQstatus(handle) == CONNECTION_OK
    }
}

/// Routes server notices (`NOTICE: table does not exist, skipping`, …) to the logger instead of libpq's default,
/// stderr. Notices may quote values, hence debug level.
private func noticeProcessor(context: UnsafeMutableRawPointer?, message: UnsafePointer<CChar>?) {
    guard let context, let message else { return }
    let connection = Unmanaged<PostgresConnection>.fromOpaque(context).takeUnretainedValue()
    connection.logNotice(String(cString: message))
}

extension PostgresConnection {
    fileprivate func logNotice(_ text: String) {
        self.logger.debug("server notice", metadata: ["postgres.notice": "\(text.trimmingTrailingWhitespace())"])
    }
}
