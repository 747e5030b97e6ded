import Foundation
import Postgres

/// The SQL of households, members and the opt-in audit log.
///
/// Every statement that can change a member's opt-in state sets the audit context (source, keyword, message sid,
/// correlation id) in transaction-local settings in the same statement, which the audit trigger reads; so a change
/// and its audit row are one atomic step, and the context cannot leak to another request on the same connection.
struct MemberStore: Sendable {
    let database: PostgresClient

    /// Why an opt-in state changes, for the audit log.
    struct AuditContext: Sendable {
        var source: OptInSource
        var keyword: String?
        var messageSID: String?
        var correlationID: String
    }

    // MARK: Households

    /// A new household; `nil` when `timezone` is not an IANA name PostgreSQL knows (the foreign key refuses it).
    func createHousehold(name: String, timezone: String) async throws(PostgresError) -> Household? {
        let rows: PostgresRows
        do {
            rows = try await database.query(
                "INSERT INTO households (name, timezone) VALUES ($1, $2) RETURNING \(Household.columns)",
                [.text(name), .text(timezone)]
            )
        } catch {
            if error.isForeignKeyViolation, error.constraint == "households_timezone_iana" { return nil }
            throw error
        }
        return try Household(row: rows[0])
    }

    func household(id: UUID) async throws(PostgresError) -> Household? {
        let rows = try await database.query(
            "SELECT \(Household.columns) FROM households WHERE id = $1", [.uuid(id)])
        return try rows.first.map { row throws(PostgresError) in try Household(row: row) }
    }

    // MARK: Members

    enum AddOutcome: Sendable {
        case added(MemberRecord)
        case householdNotFound
        case duplicate(existing: MemberRecord)
    }

    /// Adds a member unless the household is missing or deleted, or a live member has the same number.
    func add(
        householdID: UUID,
        nameToken: String,
        phoneToken: String,
        phoneIndex: String,
        keyID: String,
        state: OptInState,
        audit: AuditContext
    ) async throws(PostgresError) -> AddOutcome {
        // A concurrent delete of the conflicting member can make both the insert and the look-up come back empty;
        // trying again then settles it.
        for _ in 0..<3 {
            let inserted = try await database.query(
                """
                INSERT INTO members
                    (household_id, name_ciphertext, phone_ciphertext, phone_blind_index, encryption_key_id, opt_in_state)
                SELECT households.id, $2, $3, $4, $5, $6
                FROM households, \(Self.auditContextSQL(from: 7)) AS audit_context
                WHERE households.id = $1 AND households.deleted_at IS NULL
                ON CONFLICT (phone_blind_index) WHERE deleted_at IS NULL DO NOTHING
                RETURNING \(MemberRecord.columns)
                """,
                [
                    .uuid(householdID), .text(nameToken), .text(phoneToken), .text(phoneIndex), .text(keyID),
                    .text(state.rawValue),
                ] + Self.auditParameters(audit)
            )
            if let row = inserted.first { return .added(try MemberRecord(row: row)) }
            guard let household = try await household(id: householdID), household.deletedAt == nil else {
                return .householdNotFound
            }
            if let existing = try await liveMember(phoneIndex: phoneIndex) { return .duplicate(existing: existing) }
        }
        throw PostgresError(code: .queryFailed, message: "adding a member kept racing with concurrent changes")
    }

    func member(id: UUID) async throws(PostgresError) -> MemberRecord? {
        let rows = try await database.query("SELECT \(MemberRecord.columns) FROM members WHERE id = $1", [.uuid(id)])
        return try rows.first.map { row throws(PostgresError) in try MemberRecord(row: row) }
    }

    func liveMember(phoneIndex: String) async throws(PostgresError) -> MemberRecord? {
        let rows = try await database.query(
            "SELECT \(MemberRecord.columns) FROM members WHERE phone_blind_index = $1 AND deleted_at IS NULL",
            [.text(phoneIndex)]
        )
        return try rows.first.map { row throws(PostgresError) in try MemberRecord(row: row) }
    }

    /// A page of a household's members, oldest first; `after` is the last member of the previous page.
    func members(
        householdID: UUID,
        includeDeleted: Bool,
        after: UUID?,
        limit: Int
    ) async throws(PostgresError) -> [MemberRecord] {
        let rows = try await database.query(
            """
            SELECT \(MemberRecord.columns) FROM members
            WHERE household_id = $1 AND ($2 OR deleted_at IS NULL)
              AND ($3::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM members WHERE id = $3::uuid))
            ORDER BY created_at, id
            LIMIT $4
            """,
            [.uuid(householdID), .bool(includeDeleted), after.map { .uuid($0) } ?? .null, .int(Int64(limit))]
        )
        return try rows.map { row throws(PostgresError) in try MemberRecord(row: row) }
    }

    enum ChangeOutcome: Sendable {
        /// The state changed; the audit trigger wrote one row.
        case changed(MemberRecord)
        /// The member already was in that state: nothing written.
        case unchanged(MemberRecord)
        case deleted(MemberRecord)
        case notFound
    }

    /// Moves a live member to `state`, with the audit row in the same statement.
    func setOptInState(
        memberID: UUID,
        to state: OptInState,
        audit: AuditContext
    ) async throws(PostgresError) -> ChangeOutcome {
        let rows = try await database.query(
            """
            UPDATE members SET opt_in_state = $2, updated_at = greatest(now(), created_at)
            FROM \(Self.auditContextSQL(from: 3)) AS audit_context
            WHERE members.id = $1 AND members.deleted_at IS NULL AND members.opt_in_state <> $2
            RETURNING \(MemberRecord.columns)
            """,
            [.uuid(memberID), .text(state.rawValue)] + Self.auditParameters(audit)
        )
        if let row = rows.first { return .changed(try MemberRecord(row: row)) }
        guard let current = try await member(id: memberID) else { return .notFound }
        return current.deletedAt == nil ? .unchanged(current) : .deleted(current)
    }

    /// Soft-deletes a member; `nil` if there is no such member. Deleting a deleted member changes nothing.
    func delete(memberID: UUID) async throws(PostgresError) -> MemberRecord? {
        let rows = try await database.query(
            """
            UPDATE members SET deleted_at = greatest(now(), created_at), updated_at = greatest(now(), created_at)
            WHERE id = $1 AND deleted_at IS NULL
            RETURNING \(MemberRecord.columns)
            """,
            [.uuid(memberID)]
        )
        if let row = rows.first { return try MemberRecord(row: row) }
        return try await member(id: memberID)
    }

    /// Removes a member's name and number tokens for good (and deletes the member); the blind index and the audit
    /// rows stay. Erasing an erased member changes nothing.
    func erase(memberID: UUID) async throws(PostgresError) -> MemberRecord? {
        let rows = try await database.query(
            """
            UPDATE members
            SET name_ciphertext = NULL, phone_ciphertext = NULL, encryption_key_id = NULL,
                erased_at = greatest(now(), created_at),
                deleted_at = coalesce(deleted_at, greatest(now(), created_at)),
                updated_at = greatest(now(), created_at)
            WHERE id = $1 AND erased_at IS NULL
            RETURNING \(MemberRecord.columns)
            """,
            [.uuid(memberID)]
        )
        if let row = rows.first { return try MemberRecord(row: row) }
        return try await member(id: memberID)
    }

    // MARK: Audit log

    struct AuditFilter: Sendable {
        var memberID: UUID?
        var householdID: UUID?
        var phoneIndex: String?
    }

    /// A page of audit rows matching every given filter, oldest first; `afterID` is the last id of the previous page.
    func auditEntries(_ filter: AuditFilter, afterID: Int64?, limit: Int) async throws(PostgresError) -> [AuditEntry] {
        let rows = try await database.query(
            """
            SELECT \(AuditEntry.columns) FROM opt_in_audit_log
            WHERE ($1::uuid IS NULL OR member_id = $1::uuid)
              AND ($2::uuid IS NULL OR household_id = $2::uuid)
              AND ($3::text IS NULL OR phone_blind_index = $3::text)
              AND id > $4
            ORDER BY id
            LIMIT $5
            """,
            [
                filter.memberID.map { .uuid($0) } ?? .null,
                filter.householdID.map { .uuid($0) } ?? .null,
                filter.phoneIndex.map { .text($0) } ?? .null,
                .int(afterID ?? 0),
                .int(Int64(limit)),
            ]
        )
        return try rows.map { row throws(PostgresError) in try AuditEntry(row: row) }
    }

    // MARK: Audit context

    /// A one-row subquery that sets the audit context for the rest of the statement's transaction; its
    /// parameters start at `$first` (four of them, see ``auditParameters(_:)``).
    private static func auditContextSQL(from first: Int) -> String {
        """
        (SELECT set_config('jules.opt_in_source', $\(first), true), set_config('jules.opt_in_keyword', $\(first + 1), true), \
        set_config('jules.message_sid', $\(first + 2), true), set_config('jules.correlation_id', $\(first + 3), true))
        """
    }

    /// The keyword and the correlation id come from the client and the audit log can never be changed: a phone
    /// number in either is masked before it is written, as in the logs.
    private static func auditParameters(_ audit: AuditContext) -> [PostgresValue] {
        [
            .text(audit.source.rawValue), .text(PhoneNumberRedaction.redact(audit.keyword ?? "")),
            .text(audit.messageSID ?? ""), .text(PhoneNumberRedaction.redact(audit.correlationID)),
        ]
    }
}
