-- Allot schema, SQLite flavour. The PostgreSQL file of the same number declares the same tables and
-- columns; the differences are types only (TEXT/INTEGER here; uuid, boolean, timestamptz there).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- RS256 signing keys, shared by every node. The newest row signs; all rows verify.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_der TEXT NOT NULL,          -- base64 PKCS#8
    created_at  TEXT NOT NULL
);

CREATE TABLE tenants (
    id                   TEXT PRIMARY KEY,
    display_name         TEXT NOT NULL,
    default_domain       TEXT NOT NULL,
    default_domain_lower TEXT NOT NULL,
    country              TEXT NOT NULL,
    catalog_doc          TEXT NOT NULL,  -- JSON CatalogExtension
    seed_doc             TEXT,           -- JSON TenantDef the tenant was created from (for reset)
    created_at           TEXT NOT NULL,
    CONSTRAINT tenants_default_domain_lower_key UNIQUE (default_domain_lower)
);

CREATE TABLE subscriptions (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    sku_id     TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    warning    INTEGER NOT NULL,
    suspended  INTEGER NOT NULL,
    locked_out INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX subscriptions_tenant_sku_idx ON subscriptions (tenant_id, sku_id);

-- One row per (tenant, SKU) with a subscription: `consumed` counts the users holding the SKU. Every
-- unit change locks this row, which is what keeps concurrent writers from over-allocating.
CREATE TABLE sku_pools (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sku_id    TEXT NOT NULL,
    consumed  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sku_id)
);

CREATE TABLE apps (
    client_id               TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants (id),
    display_name            TEXT NOT NULL,
    secret_hash             TEXT NOT NULL,
    service_principal_id    TEXT NOT NULL,
    application_permissions TEXT NOT NULL,  -- JSON array
    delegated_scopes        TEXT NOT NULL,  -- JSON array
    created_at              TEXT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    upn             TEXT NOT NULL,
    upn_lower       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    given_name      TEXT,
    surname         TEXT,
    mail_nickname   TEXT,
    mail            TEXT,
    job_title       TEXT,
    usage_location  TEXT,
    account_enabled INTEGER NOT NULL,
    password_hash   TEXT,
    directory_roles TEXT NOT NULL,      -- JSON array of role template ids
    version         INTEGER NOT NULL,    -- bumped by every license change: the per-user lock
    created_at      TEXT NOT NULL,
    CONSTRAINT users_tenant_upn_key UNIQUE (tenant_id, upn_lower)
);
CREATE INDEX users_tenant_id_idx ON users (tenant_id, id);

CREATE TABLE groups (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    display_name      TEXT NOT NULL,
    description       TEXT,
    mail_nickname     TEXT NOT NULL,
    mail_enabled      INTEGER NOT NULL,
    security_enabled  INTEGER NOT NULL,
    group_types       TEXT NOT NULL,    -- JSON array
    assigned_licenses TEXT NOT NULL,    -- JSON array of {skuId, disabledPlans}
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX groups_tenant_id_idx ON groups (tenant_id, id);

CREATE TABLE group_members (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    group_id    TEXT NOT NULL REFERENCES groups (id),
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,          -- 'user' or 'group'
    added_at    TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member_idx ON group_members (member_id);

-- One row per (user, SKU, source): a licenseAssignmentStates entry. source_group_id is the nil UUID (as text)
-- for a direct assignment, so that it can be part of the key.
CREATE TABLE license_assignments (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    sku_id          TEXT NOT NULL,
    source_group_id TEXT NOT NULL,
    disabled_plans  TEXT NOT NULL,      -- JSON array of service plan ids
    state           TEXT NOT NULL,
    error           TEXT NOT NULL,
    assigned_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, sku_id, source_group_id)
);
CREATE INDEX license_assignments_tenant_sku_idx ON license_assignments (tenant_id, sku_id);
