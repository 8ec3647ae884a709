-- Group-based licensing: processing state on groups, processing mode per tenant, membership
-- order, and the durable job queue the fan-out runs from. Same columns in the PostgreSQL file.

ALTER TABLE groups ADD COLUMN processing_state TEXT;
ALTER TABLE groups ADD COLUMN processing_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN processing_mode TEXT;

-- Membership order (who gets units first when a group outnumbers them): seq is the time the
-- member was added, in microseconds; member_id breaks ties.
ALTER TABLE group_members ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX group_members_order_idx ON group_members (group_id, seq, member_id, member_type);

CREATE INDEX license_assignments_source_idx ON license_assignments (source_group_id, user_id);
-- No query filters assignments by (tenant, SKU): units are counted in sku_pools. One index less
-- to maintain on every write.
DROP INDEX license_assignments_tenant_sku_idx;

-- One row per pending piece of licensing work. kind 'group': apply a group's licenses to all its
-- members (cursor_seq/cursor_id: the last member done); kind 'user': re-evaluate one user's
-- groups. A claimed job carries a lease (microseconds since the epoch); a job whose lease ran out
-- is taken over by any worker.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    kind          TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    group_version INTEGER NOT NULL,
    cursor_seq    INTEGER NOT NULL,
    cursor_id     TEXT NOT NULL,
    phase         TEXT NOT NULL,        -- 'members', then 'sweep' (former members)
    lease_owner   TEXT,
    lease_until   INTEGER,
    attempts      INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    last_error    TEXT
);
CREATE INDEX jobs_order_idx ON jobs (seq, id);
CREATE INDEX jobs_target_idx ON jobs (target_id);
