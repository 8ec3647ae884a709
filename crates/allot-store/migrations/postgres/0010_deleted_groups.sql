-- Deleted Microsoft 365 groups (issue #18 item 4): a deleted group whose groupTypes holds
-- "Unified" is kept 30 days, with its members and the groups it was a member of, so that
-- /directory/deletedItems can list and restore it. Security groups are deleted for good.
CREATE TABLE deleted_groups (
    id                UUID PRIMARY KEY,
    tenant_id         UUID NOT NULL REFERENCES tenants (id),
    display_name      TEXT NOT NULL,
    description       TEXT,
    mail_nickname     TEXT NOT NULL,
    mail_enabled      BOOLEAN NOT NULL,
    security_enabled  BOOLEAN NOT NULL,
    group_types       TEXT NOT NULL,    -- JSON array
    assigned_licenses TEXT NOT NULL,    -- JSON array (always empty: a licensed group cannot be deleted)
    created_at        TIMESTAMPTZ NOT NULL,
    deleted_at        TIMESTAMPTZ NOT NULL,
    members           TEXT NOT NULL,    -- JSON array of {"id", "type"} ('user' or 'group')
    member_of         TEXT NOT NULL     -- JSON array of the ids of the groups it belonged to
);
CREATE INDEX deleted_groups_tenant_idx ON deleted_groups (tenant_id, id);
