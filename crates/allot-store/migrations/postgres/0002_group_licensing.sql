-- Group-based licensing: processing state on groups, processing mode per tenant, membership
-- order, and the durable job queue the fan-out runs from. Same columns in the SQLite file.

ALTER TABLE groups ADD COLUMN processing_state TEXT;
ALTER TABLE groups ADD COLUMN processing_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN processing_mode TEXT;

-- Membership order (who gets units first when a group outnumbers them): seq is the time the
-- member was added, in microseconds; member_id breaks ties.
ALTER TABLE group_members ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
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
    id            UUID PRIMARY KEY,
    seq           BIGINT NOT NULL,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    kind          TEXT NOT NULL,
    target_id     UUID NOT NULL,
    group_version BIGINT NOT NULL,
    cursor_seq    BIGINT NOT NULL,
    cursor_id     UUID NOT NULL,
    phase         TEXT NOT NULL,        -- 'members', then 'sweep' (former members)
    lease_owner   TEXT,
    lease_until   BIGINT,
    attempts      BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_error    TEXT
);
CREATE INDEX jobs_order_idx ON jobs (seq, id);
CREATE INDEX jobs_target_idx ON jobs (target_id);
