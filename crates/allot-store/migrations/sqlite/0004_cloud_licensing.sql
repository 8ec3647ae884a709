-- Beta cloudLicensing. Assignments are not stored twice: a user assignment is the user's direct
-- license_assignments row, a group assignment an entry of groups.assigned_licenses, and waiting
-- members are the group rows in CountViolation. What only cloudLicensing knows is which
-- allotment (subscription) an assignment was made from, when the SKU has several; a missing row
-- means the SKU's first subscription. Same columns in the PostgreSQL file (uuid there).
CREATE TABLE cloud_assignment_allotments (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    principal_id    TEXT NOT NULL,      -- the user or group assigned to
    sku_id          TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    PRIMARY KEY (principal_id, sku_id)
);

-- The waiting room, FIFO by the time a member started waiting: seating looks members up by SKU.
CREATE INDEX license_assignments_waiting_idx ON license_assignments (tenant_id, sku_id, updated_at)
    WHERE error = 'CountViolation';
