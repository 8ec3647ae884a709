-- Deleted Microsoft 365 groups (issue #18 item 4): a deleted group whose groupTypes holds
-- "Unified" is kept 30 days, with its members and the groups it was a member of, so that
-- /directory/deletedItems can list and restore it. Security groups are deleted for good.
CREATE TABLE deleted_groups (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    display_name      TEXT NOT NULL,
    description       TEXT,
    mail_nickname     TEXT NOT NULL,
    mail_enabled      INTEGER NOT NULL,
    security_enabled  INTEGER NOT NULL,
    group_types       TEXT NOT NULL,    -- JSON array
    assigned_licenses TEXT NOT NULL,    -- JSON array (always empty: a licensed group cannot be deleted)
    created_at        TEXT NOT NULL,
    deleted_at        TEXT NOT NULL,
    members           TEXT NOT NULL,    -- JSON array of {"id", "type"} ('user' or 'group')
    member_of         TEXT NOT NULL     -- JSON array of the ids of the groups it belonged to
);
CREATE INDEX deleted_groups_tenant_idx ON deleted_groups (tenant_id, id);
