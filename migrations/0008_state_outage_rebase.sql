-- A write made around an unreachable Redis starts from PostgreSQL, which may lack updates still waiting in the
-- journal (acknowledged, not yet persisted). The first such write of an outage records the state it started from,
-- and each merge its patch, so that when Redis answers again the merges can be applied once more on top of the
-- journal's newest state (or, when too many were made to keep, the two combined by a three-way merge) instead of the
-- older journal entries being dropped.
ALTER TABLE state_cache_invalidations
    ADD COLUMN needs_rebase boolean NOT NULL DEFAULT false,
    ADD COLUMN base_version bigint CHECK (base_version >= 0),
    ADD COLUMN base_state   jsonb,
    -- The merge patches made around the cache, in order (NULL when there were too many to keep).
    ADD COLUMN patches      jsonb CHECK (patches IS NULL OR jsonb_typeof(patches) = 'array'),
    ADD CONSTRAINT state_cache_invalidations_base_check CHECK (NOT needs_rebase OR base_version IS NOT NULL);
