//! `microsoft.graph.directoryAudit` (`/auditLogs/directoryAudits`): the audit log's filterable
//! properties, its `targetResources` collection, and the `initiatedBy/...` paths declared whole.

use super::*;

/// Equality only (`eq`, `in`): what the audit log's filters take on names and ids.
const AUDIT_EQ: FilterOps = FilterOps::NONE.with(D, &[Op::Eq, Op::In]);

/// `directoryAudit.targetResources`: the objects a record is about (`directory_audit_targets`).
pub static AUDIT_TARGETS: Collection = Collection {
    type_name: "microsoft.graph.targetResource",
    from: Sql::same("directory_audit_targets t WHERE t.audit_id = a.id"),
    element: &[
        Property::filterable(
            "id",
            Type::Guid,
            FilterOps::ELEMENT_GUID,
            Sql::same("t.target_id"),
            Case::Exact,
        ),
        Property::filterable(
            "displayName",
            Type::String,
            FilterOps::NONE.with(D, &[Op::Eq, Op::StartsWith]),
            Sql::same("t.display_name"),
            Case::Exact,
        ),
    ],
};

pub static DIRECTORY_AUDIT_PROPERTIES: [Property; 16] = [
    Property::plain("id", Type::String),
    Property::filterable(
        "activityDateTime",
        Type::DateTime,
        FilterOps::NONE.with(D, &[Op::Eq, Op::GeLe, Op::GtLt]),
        Sql::same("a.activity_at"),
        Case::Exact,
    ),
    Property::filterable(
        "activityDisplayName",
        Type::String,
        FilterOps::NONE.with(D, &[Op::Eq, Op::In, Op::StartsWith]),
        Sql::same("a.activity"),
        Case::Exact,
    ),
    Property::filterable(
        "category",
        Type::String,
        AUDIT_EQ,
        Sql::same("a.category"),
        Case::Exact,
    ),
    Property::plain("correlationId", Type::String),
    Property::filterable(
        "loggedByService",
        Type::String,
        AUDIT_EQ,
        Sql::same("a.logged_by_service"),
        Case::Exact,
    ),
    Property::plain("operationType", Type::String),
    Property::filterable(
        "result",
        Type::String,
        AUDIT_EQ,
        Sql::same("a.result"),
        Case::Exact,
    ),
    Property::plain("resultReason", Type::String),
    Property::plain("initiatedBy", Type::Opaque),
    Property::filterable(
        "initiatedBy/user/id",
        Type::Guid,
        FilterOps::DIRECTORY_ID,
        Sql::same("a.initiator_user_id"),
        Case::Exact,
    ),
    Property::filterable(
        "initiatedBy/user/userPrincipalName",
        Type::String,
        AUDIT_EQ,
        Sql::same("a.initiator_upn"),
        Case::Insensitive,
    ),
    Property::filterable(
        "initiatedBy/app/appId",
        Type::Guid,
        FilterOps::DIRECTORY_ID,
        Sql::same("a.initiator_app_id"),
        Case::Exact,
    ),
    Property::filterable(
        "targetResources",
        Type::Collection(&AUDIT_TARGETS),
        FilterOps::NONE.with(D, &[Op::Any]),
        Sql::same(""),
        Case::Exact,
    ),
    Property::plain("additionalDetails", Type::Opaque),
    Property::plain("userAgent", Type::String),
];

/// `microsoft.graph.directoryAudit` (`/auditLogs/directoryAudits`), the `directory_audits` row
/// aliased `a`. The `initiatedBy/...` paths are filterable as whole names.
pub static DIRECTORY_AUDITS: EntitySchema = EntitySchema::new(
    "directoryAudit",
    "microsoft.graph.directoryAudit",
    "DirectoryAudit",
    "a",
    &DIRECTORY_AUDIT_PROPERTIES,
    true,
    &[],
);
