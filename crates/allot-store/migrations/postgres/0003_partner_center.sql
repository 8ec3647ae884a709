-- Partner Center: partner-customer relationships with their GDAP roles, soft-deleted users (the
-- 30-day restore window), the Partner Center fields of users, and the answers kept for replaying a
-- repeated MS-RequestId. Same columns in the SQLite file.

ALTER TABLE users ADD COLUMN immutable_id TEXT;
ALTER TABLE users ADD COLUMN phone_number TEXT;

CREATE TABLE partner_relationships (
    id                 UUID PRIMARY KEY,
    partner_tenant_id  UUID NOT NULL REFERENCES tenants (id),
    customer_tenant_id UUID NOT NULL REFERENCES tenants (id),
    display_name       TEXT NOT NULL,
    roles              TEXT NOT NULL,   -- JSON array of role template ids
    users              TEXT NOT NULL,   -- JSON array of partner user ids; [] = every partner user
    created_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT partner_relationships_pair_key UNIQUE (partner_tenant_id, customer_tenant_id)
);
CREATE INDEX partner_relationships_customer_idx ON partner_relationships (customer_tenant_id);

-- A deleted user: the row as it was, the direct licenses and memberships it had (restored with
-- it), and when it was deleted. Rows older than 30 days are past restoring and are purged.
CREATE TABLE deleted_users (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    upn             TEXT NOT NULL,
    upn_lower       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    given_name      TEXT,
    surname         TEXT,
    mail_nickname   TEXT,
    mail            TEXT,
    job_title       TEXT,
    usage_location  TEXT,
    account_enabled BOOLEAN NOT NULL,
    password_hash   TEXT,
    directory_roles TEXT NOT NULL,
    immutable_id    TEXT,
    phone_number    TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ NOT NULL,
    licenses        TEXT NOT NULL,      -- JSON array of {skuId, disabledPlans} (direct only)
    memberships     TEXT NOT NULL       -- JSON array of group ids
);
CREATE INDEX deleted_users_tenant_idx ON deleted_users (tenant_id, id);

-- The first answer to a POST per (caller tenant, MS-RequestId). status is NULL while the first
-- request is still running.
CREATE TABLE request_replays (
    tenant_id   UUID NOT NULL,
    request_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,          -- method and path of the first request
    status      BIGINT,
    body        TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX request_replays_created_idx ON request_replays (created_at);
