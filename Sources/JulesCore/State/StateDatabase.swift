import Foundation
import JSONRPC
import Postgres

/// The PostgreSQL side of conversation state: the durable rows, forward-only upserts, and writes made straight
/// to the database while Redis is unreachable.
struct StateDatabase: Sendable {
    let database: PostgresClient

    /// How far a write made around Redis moves the version forward, so that it outranks every update that may
    /// still sit in the unreachable journal for that household (at most this many).
    static let bypassVersionJump: Int64 = 1 << 20

    /// How many merge patches made around the cache are kept per household for the rebase.
    static let maximumKeptPatches = 256

    /// The stored state, or `nil` when the household does not exist (or is deleted).
    func load(_ household: UUID) async throws(PostgresError) -> ConversationState? {
        let rows = try await database.query(
            """
            SELECT households.id IS NOT NULL AS known, conversation_states.state::text AS state,
                   conversation_states.version
            FROM (SELECT $1::uuid AS id) AS wanted
            LEFT JOIN households ON households.id = wanted.id AND households.deleted_at IS NULL
            LEFT JOIN conversation_states ON conversation_states.household_id = wanted.id
            """,
            [.uuid(household)]
        )
        let row = rows[0]
        guard try row.decode("known", as: Bool.self) else { return nil }
        let version: Int64 = try row.decode("version", as: Int64?.self) ?? 0
        guard let text: String = try row.decode("state") else { return ConversationState(state: nil, version: version) }
        do {
            return ConversationState(state: try JSONParser.parse(text), version: version)
        } catch {
            throw PostgresError(code: .decodingFailed, message: "a stored conversation state is not valid JSON")
        }
    }

    /// One journal entry to store.
    struct Entry: Sendable {
        var household: UUID
        var version: Int64
        var state: JSONValue?
    }

    /// Stores the newest entry of each household, skipping any older than its row (and households that do not
    /// exist). Returns, for each household whose row holds the entry's version after the statement, that version:
    /// stored now, or already (by an earlier try, the other instance's persister or a durable write). A household
    /// that no longer exists counts as stored: nothing will ever store it, and its cached copy may expire. A
    /// household left out holds a newer version, written around the cache: its entry is not in PostgreSQL.
    @discardableResult
    func upsert(_ entries: [Entry]) async throws(PostgresError) -> [UUID: Int64] {
        var newest: [UUID: Entry] = [:]
        for entry in entries where (newest[entry.household]?.version ?? -1) < entry.version {
            newest[entry.household] = entry
        }
        guard !newest.isEmpty else { return [:] }
        let records = newest.values.map { entry -> JSONValue in
            [
                "household_id": .string(entry.household.lowercasedText),
                "version": JSONValue(Int(entry.version)),
                "state": entry.state ?? .null,
            ]
        }
        // A row already at the entry's version is "updated" to itself (its state and time kept), so that RETURNING
        // counts it as stored: the comparison runs on the row as locked, which a separate read of the statement's
        // snapshot could miss (the other writer committing meanwhile). Only the entries not stored come back,
        // usually none: reading a row per entry back cost the persister 10-15% more CPU per update.
        let rows = try await database.query(
            """
            WITH incoming AS MATERIALIZED (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS incoming(household_id uuid, state jsonb, version bigint)
            ), stored AS (
                INSERT INTO conversation_states (household_id, state, version, updated_at)
                SELECT incoming.household_id, incoming.state, incoming.version, now()
                FROM incoming JOIN households ON households.id = incoming.household_id
                ON CONFLICT (household_id) DO UPDATE
                    SET state = CASE WHEN conversation_states.version < EXCLUDED.version
                            THEN EXCLUDED.state ELSE conversation_states.state END,
                        updated_at = CASE WHEN conversation_states.version < EXCLUDED.version
                            THEN EXCLUDED.updated_at ELSE conversation_states.updated_at END,
                        version = EXCLUDED.version
                    WHERE conversation_states.version <= EXCLUDED.version
                RETURNING household_id
            )
            SELECT incoming.household_id FROM incoming
            WHERE NOT EXISTS (SELECT 1 FROM stored WHERE stored.household_id = incoming.household_id)
              AND EXISTS (SELECT 1 FROM households WHERE households.id = incoming.household_id)
            """,
            [.json(JSONValue.array(records).jsonString)]
        )
        var stored = newest.mapValues(\.version)
        for row in rows { stored[try row.decode("household_id", as: UUID.self)] = nil }
        return stored
    }

    enum BypassOutcome: Sendable {
        case written(ConversationState)
        case versionMismatch(current: Int64)
        case householdNotFound
        /// An expected version matched PostgreSQL's, which may not be the newest acknowledged: nothing was written.
        case comparisonUnsafe
    }

    /// Writes a state straight to PostgreSQL (Redis unreachable), recording that the cached copy is stale.
    ///
    /// - Parameters:
    ///   - mergePatch: The patch of a merge, which builds on the current state: it is kept so that, once Redis is
    ///     back, it can be applied again on top of updates the unreachable journal held. `nil` for a replace or a
    ///     delete.
    ///   - change: Computes the new state from the current one (a replace ignores it, a merge applies the patch;
    ///     `nil` deletes); an error it throws rolls the transaction back.
    func writeBypassingCache(
        _ household: UUID,
        expected: Int64?,
        mergePatch: JSONValue?,
        change: @Sendable (JSONValue?) throws -> JSONValue?
    ) async throws -> BypassOutcome {
        try await database.withTransaction { transaction in
            let known = try await transaction.query(
                "SELECT 1 FROM households WHERE id = $1 AND deleted_at IS NULL FOR SHARE", [.uuid(household)])
            guard !known.isEmpty else { return .householdNotFound }
            _ = try await transaction.query(
                """
                INSERT INTO conversation_states (household_id, state, version) VALUES ($1, NULL, 0)
                ON CONFLICT (household_id) DO NOTHING
                """,
                [.uuid(household)]
            )
            let rows = try await transaction.query(
                """
                SELECT state::text AS state, version FROM conversation_states WHERE household_id = $1 FOR UPDATE
                """,
                [.uuid(household)]
            )
            let current: Int64 = try rows[0].decode("version")
            if let expected {
                if expected != current { return .versionMismatch(current: current) }
                // PostgreSQL's version is the newest acknowledged only if it was itself written around the cache
                // (after the unreachable journal's, which it jumped past): else the journal may hold newer versions,
                // acknowledged just before the outage, and a writer comparing with this one would win against a
                // version another writer already won against.
                let recorded = try await transaction.query(
                    "SELECT version FROM state_cache_invalidations WHERE household_id = $1", [.uuid(household)])
                guard let version: Int64 = try recorded.first?.decode("version"), version == current else {
                    return .comparisonUnsafe
                }
            }
            let currentState = try (rows[0].decode("state", as: String?.self)).map { text in try JSONParser.parse(text)
            }
            // Every write around the cache jumps past whatever the journal may still hold, including what an
            // instance that can reach Redis wrote there on top of an earlier write around it (a version that
            // followed on by one could then be acknowledged twice, for two different states).
            let version = current + Self.bypassVersionJump
            let newState = try change(currentState)
            _ = try await transaction.query(
                "UPDATE conversation_states SET state = $2, version = $3, updated_at = now() WHERE household_id = $1",
                [.uuid(household), newState.map { .json($0.jsonString) } ?? .null, .int(version)]
            )
            // A merge as the first write of an outage keeps the state it started from, and each merge its patch,
            // for ``rebase(_:onto:cachedVersion:)``; a replace or delete at any point makes the outage's state
            // independent of what the journal held. Past ``maximumKeptPatches`` patches (or 1 MiB of them), only the
            // starting state is kept and the rebase falls back to a three-way merge.
            _ = try await transaction.query(
                """
                INSERT INTO state_cache_invalidations
                    (household_id, version, needs_rebase, base_version, base_state, patches)
                VALUES ($1, $2, $5, $3, CASE WHEN $5 THEN $4::jsonb END, CASE WHEN $5 THEN jsonb_build_array($6::jsonb) END)
                ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version,
                    needs_rebase = state_cache_invalidations.needs_rebase AND EXCLUDED.needs_rebase,
                    base_state = CASE WHEN EXCLUDED.needs_rebase THEN state_cache_invalidations.base_state END,
                    patches = CASE
                        WHEN EXCLUDED.needs_rebase AND state_cache_invalidations.needs_rebase
                            AND jsonb_array_length(state_cache_invalidations.patches) < $7
                            AND octet_length(state_cache_invalidations.patches::text) < 1048576
                        THEN state_cache_invalidations.patches || EXCLUDED.patches
                    END
                """,
                [
                    .uuid(household), .int(version), .int(current),
                    currentState.map { .json($0.jsonString) } ?? .null, .bool(mergePatch != nil),
                    mergePatch.map { .json($0.jsonString) } ?? .null, .int(Int64(Self.maximumKeptPatches)),
                ]
            )
            return .written(ConversationState(state: newState, version: version))
        }
    }

    /// A household written around the cache.
    struct Invalidation: Sendable, Equatable {
        var household: UUID
        /// The cache must not hold a version older than this.
        var version: Int64
        /// Whether the newest journal state may still need combining with the writes made around the cache.
        var needsRebase: Bool
    }

    /// The households whose cached state is stale.
    func pendingInvalidations() async throws(PostgresError) -> [Invalidation] {
        let rows = try await database.query(
            "SELECT household_id, version, needs_rebase FROM state_cache_invalidations")
        return try rows.map { row throws(PostgresError) in
            Invalidation(
                household: try row.decode("household_id"), version: try row.decode("version"),
                needsRebase: try row.decode("needs_rebase"))
        }
    }

    /// Whether any household has been written around the cache and not yet cleared.
    func hasPendingInvalidations() async throws(PostgresError) -> Bool {
        try await database.query("SELECT EXISTS (SELECT 1 FROM state_cache_invalidations) AS pending")[0]
            .decode("pending")
    }

    /// What ``rebase(_:onto:cachedVersion:)`` made of a household's writes around the cache.
    struct Rebase: Sendable {
        /// The invalidation's version as the rebase read it: ``finishRebase(_:_:)`` tells by it whether another write
        /// around the cache came since.
        var recordedVersion: Int64
        /// The version of the state the kept merges apply to, after the rebase.
        var baseVersion: Int64
        /// How many merge patches the rebase applied; `nil` when too many were made to keep.
        var patchCount: Int?
        /// What PostgreSQL holds after the rebase.
        var stored: ConversationState
        /// Whether the rebase stored a new state.
        var rewrote: Bool
        /// Whether the cached copy must be replaced by ``stored``: not when it is at or past PostgreSQL's version.
        var installs: Bool
    }

    /// Combines the writes made around the cache with `journaled`, the household's cached copy (its newest state in
    /// Redis) when it is back: when that state is newer than the one the writes around the cache started from, it
    /// holds acknowledged updates PostgreSQL never stored, which those writes did not see. The merges made around the
    /// cache are applied again on top of it (or, when too many were made to keep, the two states are combined by
    /// ``ThreeWayMerge``), and the result is stored at a version above both. Returns `nil` when no rebase is pending
    /// (another instance finished it, or a replace or delete made around the cache since decides the whole state).
    ///
    /// The invalidation is kept, with its patches: the caller installs ``Rebase/stored`` in the cache only if the
    /// cached copy is still `cachedVersion`, and calls ``finishRebase(_:_:)`` once it is. If the copy moved on (a
    /// write acknowledged meanwhile), the caller rebases again on the newer copy: the merges made around the cache
    /// then apply to it, and the result is stored at a version above this one.
    ///
    /// - Parameters:
    ///   - journaled: The cached copy; `nil` when none is cached or it is unreadable.
    ///   - cachedVersion: The cached copy's version, also when it is unreadable; `nil` when none is cached.
    func rebase(_ household: UUID, onto journaled: ConversationState?, cachedVersion: Int64?) async throws -> Rebase? {
        try await database.withTransaction { transaction in
            // Rows locked in the order writes around the cache lock them: the state, then the invalidation.
            let states = try await transaction.query(
                """
                SELECT state::text AS state, version FROM conversation_states WHERE household_id = $1 FOR UPDATE
                """,
                [.uuid(household)]
            )
            let pending = try await transaction.query(
                """
                SELECT version, base_version, base_state::text AS base_state, patches::text AS patches
                FROM state_cache_invalidations WHERE household_id = $1 AND needs_rebase FOR UPDATE
                """,
                [.uuid(household)]
            )
            guard let row = pending.first, let current = states.first else { return nil }
            let currentVersion: Int64 = try current.decode("version")
            let ours = try Self.parseStored(try current.decode("state", as: String?.self))
            var patches: [JSONValue]?
            if case .array(let kept)? = try Self.parseStored(try row.decode("patches", as: String?.self)) {
                patches = kept
            }
            var rebase = Rebase(
                recordedVersion: try row.decode("version"), baseVersion: try row.decode("base_version"),
                patchCount: patches?.count, stored: ConversationState(state: ours, version: currentVersion),
                rewrote: false, installs: true)
            if let cachedVersion, cachedVersion >= currentVersion {
                // Cached after the writes around it (by an instance that could reach Redis), and written on top: it
                // holds them already, and the journal brings it to PostgreSQL. Storing it here, at a version above
                // its own, would take the version the cache's next write gets.
                rebase.installs = false
                return rebase
            }
            guard let journaled, journaled.version > rebase.baseVersion else {
                // Nothing PostgreSQL lacks: the copy is replaced by what it holds.
                return rebase
            }
            let merged: JSONValue?
            if let patches {
                // The outage's merges again, in order, on top of the journal's newest state.
                merged = patches.reduce(journaled.state) { state, patch in JSONMergePatch.apply(patch, to: state) }
            } else {
                let base = try Self.parseStored(try row.decode("base_state", as: String?.self))
                merged = ThreeWayMerge.merge(base: base, ours: ours, theirs: journaled.state)
            }
            if merged != ours {
                let version = max(currentVersion, journaled.version) + 1
                _ = try await transaction.query(
                    """
                    UPDATE conversation_states SET state = $2, version = $3, updated_at = now()
                    WHERE household_id = $1
                    """,
                    [.uuid(household), merged.map { .json($0.jsonString) } ?? .null, .int(version)]
                )
                rebase.stored = ConversationState(state: merged, version: version)
                rebase.rewrote = true
            }
            // PostgreSQL now holds the outage's changes on top of the journaled copy, which becomes their base: a
            // rebase on a newer copy (a retry, or a later check) applies them on top of that copy once, and the
            // three-way merge counts as the journal's only what changed after it.
            _ = try await transaction.query(
                """
                UPDATE state_cache_invalidations SET base_version = $2, base_state = $3 WHERE household_id = $1
                """,
                [.uuid(household), .int(journaled.version), journaled.state.map { .json($0.jsonString) } ?? .null]
            )
            rebase.baseVersion = journaled.version
            return rebase
        }
    }

    /// Forgets the writes around the cache that `rebase` combined, once the cache holds them (``Rebase/stored`` was
    /// installed, or nothing needed installing).
    ///
    /// A write made around the cache since the rebase read them (by an instance that cannot reach Redis) keeps the
    /// invalidation: its merge patch stays for the next check, on top of the state just reconciled as its base, and
    /// the patches the rebase applied go, or the next check would apply them again over updates made since.
    func finishRebase(_ household: UUID, _ rebase: Rebase) async throws {
        try await database.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                SELECT version, needs_rebase, base_version FROM state_cache_invalidations
                WHERE household_id = $1 FOR UPDATE
                """,
                [.uuid(household)]
            )
            guard let row = rows.first else { return }
            let version: Int64 = try row.decode("version")
            if version <= rebase.recordedVersion {
                _ = try await transaction.query(
                    "DELETE FROM state_cache_invalidations WHERE household_id = $1", [.uuid(household)])
                return
            }
            // A replace or delete made around the cache since decides the whole state, and an invalidation recorded
            // anew (its base is above this one) started from what PostgreSQL held then: the next check takes both
            // as they are.
            let needsRebase: Bool = try row.decode("needs_rebase")
            let baseVersion: Int64? = try row.decode("base_version")
            guard needsRebase, baseVersion == rebase.baseVersion else { return }
            _ = try await transaction.query(
                """
                UPDATE state_cache_invalidations
                SET base_version = $2, base_state = $3,
                    patches = (
                        SELECT jsonb_agg(kept.patch ORDER BY kept.position)
                        FROM jsonb_array_elements(patches) WITH ORDINALITY AS kept(patch, position)
                        WHERE kept.position > $4
                    )
                WHERE household_id = $1
                """,
                [
                    .uuid(household), .int(rebase.stored.version),
                    rebase.stored.state.map { .json($0.jsonString) } ?? .null, .int(Int64(rebase.patchCount ?? 0)),
                ]
            )
        }
    }

    private static func parseStored(_ text: String?) throws -> JSONValue? {
        guard let text else { return nil }
        do {
            return try JSONParser.parse(text)
        } catch {
            throw PostgresError(code: .decodingFailed, message: "a stored conversation state is not valid JSON")
        }
    }

    /// Forgets an invalidation once the cache is clean, unless a newer bypass write replaced it meanwhile.
    func clearInvalidation(_ household: UUID, version: Int64) async throws(PostgresError) {
        _ = try await database.query(
            "DELETE FROM state_cache_invalidations WHERE household_id = $1 AND version <= $2",
            [.uuid(household), .int(version)]
        )
    }
}
