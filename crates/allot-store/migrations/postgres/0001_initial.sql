-- Allot schema, PostgreSQL flavour. The SQLite file of the same number declares the same tables and
-- columns; the differences are types only (uuid, boolean, timestamptz here; TEXT/INTEGER there).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- RS256 signing keys, shared by every node. The newest row signs; all rows verify.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_der TEXT NOT NULL,          -- base64 PKCS#8
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE tenants (
    id                   UUID PRIMARY KEY,
    display_name         TEXT NOT NULL,
    default_domain       TEXT NOT NULL,
    default_domain_lower TEXT NOT NULL,
    country              TEXT NOT NULL,
    catalog_doc          TEXT NOT NULL,  -- JSON CatalogExtension
    seed_doc             TEXT,           -- JSON TenantDef the tenant was created from (for reset)
    created_at           TIMESTAMPTZ NOT NULL,
    CONSTRAINT tenants_default_domain_lower_key UNIQUE (default_domain_lower)
);

CREATE TABLE subscriptions (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    sku_id     UUID NOT NULL,
    enabled    BIGINT NOT NULL,
    warning    BIGINT NOT NULL,
    suspended  BIGINT NOT NULL,
    locked_out BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX subscriptions_tenant_sku_idx ON subscriptions (tenant_id, sku_id);

-- One row per (tenant, SKU) with a subscription: `consumed` counts the users holding the SKU. Every
-- unit change locks this row, which is what keeps concurrent writers from over-allocating.
CREATE TABLE sku_pools (
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    sku_id    UUID NOT NULL,
    consumed  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sku_id)
);

CREATE TABLE apps (
    client_id               UUID PRIMARY KEY,
    tenant_id               UUID NOT NULL REFERENCES tenants (id),
    display_name            TEXT NOT NULL,
    secret_hash             TEXT NOT NULL,
    service_principal_id    UUID NOT NULL,
    application_permissions TEXT NOT NULL,  -- JSON array
    delegated_scopes        TEXT NOT NULL,  -- JSON array
    created_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
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
    directory_roles TEXT NOT NULL,      -- JSON array of role template ids
    version         BIGINT NOT NULL,    -- bumped by every license change: the per-user lock
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_tenant_upn_key UNIQUE (tenant_id, upn_lower)
);
CREATE INDEX users_tenant_id_idx ON users (tenant_id, id);

CREATE TABLE groups (
    id                UUID PRIMARY KEY,
    tenant_id         UUID NOT NULL REFERENCES tenants (id),
    display_name      TEXT NOT NULL,
    description       TEXT,
    mail_nickname     TEXT NOT NULL,
    mail_enabled      BOOLEAN NOT NULL,
    security_enabled  BOOLEAN NOT NULL,
    group_types       TEXT NOT NULL,    -- JSON array
    assigned_licenses TEXT NOT NULL,    -- JSON array of {skuId, disabledPlans}
    version           BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX groups_tenant_id_idx ON groups (tenant_id, id);

CREATE TABLE group_members (
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    group_id    UUID NOT NULL REFERENCES groups (id),
    member_id   UUID NOT NULL,
    member_type TEXT NOT NULL,          -- 'user' or 'group'
    added_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member_idx ON group_members (member_id);

-- One row per (user, SKU, source): a licenseAssignmentStates entry. source_group_id is the nil UUID
-- for a direct assignment, so that it can be part of the key.
CREATE TABLE license_assignments (
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    user_id         UUID NOT NULL REFERENCES users (id),
    sku_id          UUID NOT NULL,
    source_group_id UUID NOT NULL,
    disabled_plans  TEXT NOT NULL,      -- JSON array of service plan ids
    state           TEXT NOT NULL,
    error           TEXT NOT NULL,
    assigned_at     TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, sku_id, source_group_id)
);
CREATE INDEX license_assignments_tenant_sku_idx ON license_assignments (tenant_id, sku_id);
