-- Delta queries (issue #18 item 5). Every write to a user or group stamps its row with a change
-- mark: on SQLite the current epoch of change_counter (a delta round starts by moving the epoch
-- on, so what commits after that start carries a mark at least the round's watermark); on
-- PostgreSQL the writing transaction's id (a round's watermark is the oldest transaction still
-- running when it starts, so nothing that commits later can carry a smaller mark). A delta token
-- holds a watermark; the next round returns every object whose mark is at least it. Deleted and
-- purged objects and ended memberships leave marked rows too, reported as "@removed".
ALTER TABLE users ADD COLUMN change_mark INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deleted_users ADD COLUMN change_mark INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN change_mark INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deleted_groups ADD COLUMN change_mark INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_members ADD COLUMN change_mark INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_change_mark_idx ON users (tenant_id, change_mark);
CREATE INDEX groups_change_mark_idx ON groups (tenant_id, change_mark);

-- Objects deleted for good (a purge, a security group's delete): kept 30 days for delta rounds.
CREATE TABLE directory_tombstones (
    id          TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    kind        TEXT NOT NULL,          -- 'user' or 'group'
    change_mark INTEGER NOT NULL,
    removed_at  TEXT NOT NULL,
    PRIMARY KEY (id, kind)
);
CREATE INDEX directory_tombstones_mark_idx ON directory_tombstones (tenant_id, kind, change_mark);

-- Memberships that ended, for members@delta.
CREATE TABLE membership_tombstones (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,
    change_mark INTEGER NOT NULL,
    removed_at  TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);

-- SQLite's change epoch (PostgreSQL uses transaction ids instead).
CREATE TABLE change_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    mark INTEGER NOT NULL
);
INSERT INTO change_counter (id, mark) VALUES (1, 1);
