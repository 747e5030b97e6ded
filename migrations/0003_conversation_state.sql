-- Each household's conversation state: hot in Redis, durable here.
--
-- Rows only ever move forward: the persister's upsert applies a version only when it is newer than the row's, so a
-- journal entry delivered twice, late, or out of order can never undo a newer state. A deleted state keeps its
-- row (state NULL) so that versions go on increasing after the delete.
CREATE TABLE conversation_states (
    household_id uuid        PRIMARY KEY REFERENCES households (id),
    state        jsonb       CHECK (state IS NULL OR jsonb_typeof(state) = 'object'),
    version      bigint      NOT NULL CHECK (version >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Households whose state was written straight to PostgreSQL while Redis was unreachable: their cached copies are
-- older than the row and are dropped from Redis (then this row deleted) before the cache is trusted again.
CREATE TABLE state_cache_invalidations (
    household_id uuid        PRIMARY KEY REFERENCES households (id),
    version      bigint      NOT NULL CHECK (version > 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
