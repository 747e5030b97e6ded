-- Households: the unit everything else belongs to (members, conversation state, recipes, plans).
-- Soft delete: a deleted household keeps its row (for the audit trail) with deleted_at set.
CREATE TABLE households (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    timezone    text        NOT NULL DEFAULT 'UTC' CHECK (char_length(timezone) BETWEEN 1 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK (deleted_at IS NULL OR deleted_at >= created_at)
);

CREATE INDEX households_live_idx ON households (created_at) WHERE deleted_at IS NULL;
