-- The audit log (issue #19 item 1): one row per event, written in the transaction of the change it
-- records, read as Graph's auditLogs/directoryAudits. The initiator's ids and UPN are columns for
-- $filter; the shapes Graph shows (initiatedBy, targetResources, additionalDetails) are JSON text.
CREATE TABLE directory_audits (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    activity_at       TEXT NOT NULL,
    category          TEXT NOT NULL,
    activity          TEXT NOT NULL,
    operation_type    TEXT NOT NULL,
    result            TEXT NOT NULL,
    result_reason     TEXT NOT NULL,
    correlation_id    TEXT NOT NULL,
    logged_by_service TEXT NOT NULL,
    initiator_user_id TEXT,
    initiator_upn     TEXT,
    initiator_app_id  TEXT,
    initiated_by      TEXT NOT NULL,
    target_resources  TEXT NOT NULL,
    additional        TEXT NOT NULL
);
CREATE INDEX directory_audits_time_idx ON directory_audits (tenant_id, activity_at, id);

-- The objects each record is about, for targetResources/any(t: t/id eq ...).
CREATE TABLE directory_audit_targets (
    audit_id     TEXT NOT NULL REFERENCES directory_audits (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    display_name TEXT,
    PRIMARY KEY (audit_id, target_id)
);
CREATE INDEX directory_audit_targets_target_idx ON directory_audit_targets (tenant_id, target_id);
