//! Per-entity schemas: every property an entity has, its type, the `$filter` operators it allows
//! (and which of them need advanced query mode), whether `$select`, `$orderby` and `$search` may
//! name it, and the SQL that reads it.
//!
//! The SQL is written against Allot's tables (`crates/allot-store/migrations`): the entity's row
//! is aliased (`u` for `users`, `g` for `groups`); a collection is a correlated subquery whose
//! `FROM ... WHERE` part is given per dialect and whose elements are read through their own
//! columns. A user holds a SKU while one of its `license_assignments` rows is `Active` or
//! `ActiveWithError` (`allot_core::licensing::AssignmentState::holds_license`), which is what
//! `assignedLicenses` shows; a group's licenses are the JSON array in `groups.assigned_licenses`.
//!
//! Support levels follow spec §4.5–4.6 and Entra's directory filter table; where the spec is
//! silent, docs/compat/odata.md lists the choice made.

/// The SQL engine a fragment is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text for each dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sql {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Sql {
    /// The same text on both engines.
    #[must_use]
    pub const fn same(s: &'static str) -> Self {
        Self {
            sqlite: s,
            postgres: s,
        }
    }

    #[must_use]
    pub const fn get(self, d: Dialect) -> &'static str {
        match d {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// Whether an operator (or option) may be used on a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    No,
    /// Without advanced query mode.
    Default,
    /// Only with `ConsistencyLevel: eventual` and `$count=true`.
    Advanced,
}

impl Support {
    #[must_use]
    pub const fn allowed(self) -> bool {
        !matches!(self, Self::No)
    }
}

/// The `$filter` operators of one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterOps {
    pub eq: Support,
    pub ne: Support,
    /// `not(...)` around a condition on this property (or `not(collection/any(...))`).
    pub not: Support,
    pub ge_le: Support,
    pub gt_lt: Support,
    pub in_list: Support,
    pub starts_with: Support,
    pub ends_with: Support,
    pub contains: Support,
    pub eq_null: Support,
    /// Collections: `any(...)`.
    pub any: Support,
    /// Collections: `all(...)`.
    pub all: Support,
    /// Collections: `/$count eq 0` and `/$count ne 0`.
    pub count_zero: Support,
}

/// One `$filter` operator, for building a [`FilterOps`] with [`FilterOps::with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Not,
    GeLe,
    GtLt,
    In,
    StartsWith,
    EndsWith,
    Contains,
    EqNull,
    Any,
    All,
    CountZero,
}

use Support::{Advanced as A, Default as D, No as N};

impl FilterOps {
    /// Not filterable.
    pub const NONE: Self = Self {
        eq: N,
        ne: N,
        not: N,
        ge_le: N,
        gt_lt: N,
        in_list: N,
        starts_with: N,
        ends_with: N,
        contains: N,
        eq_null: N,
        any: N,
        all: N,
        count_zero: N,
    };
    /// Directory string properties (`displayName`, `mail`, ...): `eq`, `in`, `startsWith` by
    /// default; `ne`, `not`, `endsWith`, `eq null` advanced.
    pub const DIRECTORY_STRING: Self = Self::NONE
        .with(D, &[Op::Eq, Op::In, Op::StartsWith])
        .with(A, &[Op::Ne, Op::Not, Op::EndsWith, Op::EqNull]);
    /// Object ids: `eq`, `in` by default; `ne`, `not` advanced.
    pub const DIRECTORY_ID: Self = Self::NONE.with(D, &[Op::Eq, Op::In]).with(A, &[Op::Ne, Op::Not]);
    /// Booleans: `eq` by default; `ne`, `not`, `eq null` advanced.
    pub const DIRECTORY_BOOL: Self = Self::NONE
        .with(D, &[Op::Eq])
        .with(A, &[Op::Ne, Op::Not, Op::EqNull]);
    /// Timestamps (`createdDateTime`): everything advanced.
    pub const DIRECTORY_DATETIME: Self =
        Self::NONE.with(A, &[Op::Eq, Op::Ne, Op::Not, Op::GeLe, Op::In, Op::EqNull]);
    /// A GUID inside a license collection (`skuId`): as an object id.
    pub const ELEMENT_GUID: Self = Self::DIRECTORY_ID;
    /// `assignedLicenses`: `any` by default; `not(any)` and `/$count eq|ne 0` advanced.
    pub const LICENSE_COLLECTION: Self = Self::NONE.with(D, &[Op::Any]).with(A, &[Op::Not, Op::CountZero]);

    /// These operators at `support`, the others as they are.
    #[must_use]
    pub const fn with(mut self, support: Support, ops: &[Op]) -> Self {
        let mut i = 0;
        while i < ops.len() {
            match ops[i] {
                Op::Eq => self.eq = support,
                Op::Ne => self.ne = support,
                Op::Not => self.not = support,
                Op::GeLe => self.ge_le = support,
                Op::GtLt => self.gt_lt = support,
                Op::In => self.in_list = support,
                Op::StartsWith => self.starts_with = support,
                Op::EndsWith => self.ends_with = support,
                Op::Contains => self.contains = support,
                Op::EqNull => self.eq_null = support,
                Op::Any => self.any = support,
                Op::All => self.all = support,
                Op::CountZero => self.count_zero = support,
            }
            i += 1;
        }
        self
    }
}

/// How a string column compares: Graph compares directory strings case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Compared as written (GUIDs, booleans, timestamps).
    Exact,
    /// Compared as `LOWER(column)` against the lower-cased value.
    Insensitive,
    /// The column already holds the lower-cased value (`users.upn_lower`).
    Lowered,
}

/// The SQL that reads a scalar property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub expr: Sql,
    pub case: Case,
}

/// A collection-valued property, read by a correlated subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// The element type's qualified name (`microsoft.graph.assignedLicense`).
    pub type_name: &'static str,
    /// `<from-item> WHERE <correlation>`: one row per element of the entity's collection.
    pub from: Sql,
    pub element: &'static [Property],
}

/// A property's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Guid,
    String,
    Bool,
    Int,
    DateTime,
    /// A complex or primitive value that cannot be compared (`prepaidUnits`, `businessPhones`).
    Opaque,
    Collection(&'static Collection),
}

impl Type {
    /// The EDM type name, for messages.
    #[must_use]
    pub const fn edm(self) -> &'static str {
        match self {
            Self::Guid => "Edm.Guid",
            Self::String => "Edm.String",
            Self::Bool => "Edm.Boolean",
            Self::Int => "Edm.Int32",
            Self::DateTime => "Edm.DateTimeOffset",
            Self::Opaque => "Edm.ComplexType",
            Self::Collection(_) => "Collection",
        }
    }
}

/// One property of an entity or complex type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    pub ty: Type,
    pub filter: FilterOps,
    pub select: bool,
    pub orderby: Support,
    /// `$search` may name it (`"displayName:word"`).
    pub search: bool,
    pub column: Option<Column>,
}

impl Property {
    /// A property that can be selected and nothing else.
    #[must_use]
    pub const fn plain(name: &'static str, ty: Type) -> Self {
        Self {
            name,
            ty,
            filter: FilterOps::NONE,
            select: true,
            orderby: N,
            search: false,
            column: None,
        }
    }

    /// Filterable with `ops`, read by `expr` (case as given).
    #[must_use]
    pub const fn filterable(name: &'static str, ty: Type, ops: FilterOps, expr: Sql, case: Case) -> Self {
        Self {
            name,
            ty,
            filter: ops,
            select: true,
            orderby: N,
            search: false,
            column: Some(Column { expr, case }),
        }
    }

    #[must_use]
    pub const fn sortable(mut self, s: Support) -> Self {
        self.orderby = s;
        self
    }

    #[must_use]
    pub const fn searchable(mut self) -> Self {
        self.search = true;
        self
    }

    /// Usable in `$filter` only, never returned (`hasMembersWithLicenseErrors`).
    #[must_use]
    pub const fn filter_only(mut self) -> Self {
        self.select = false;
        self
    }
}

/// An entity set's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySchema {
    /// `user`: the short name in `microsoft.graph.user`.
    pub name: &'static str,
    /// `microsoft.graph.user`.
    pub type_name: &'static str,
    /// `User`: the resource name Entra's filter messages use.
    pub resource: &'static str,
    /// Alias of the entity's row in the SQL the fragments go into.
    pub alias: &'static str,
    pub properties: &'static [Property],
    /// Whether `$filter` is accepted at all (`subscribedSkus`, `licenseDetails`: no).
    pub filter: bool,
    /// `$expand`-able navigation properties.
    pub expand: &'static [&'static str],
}

impl EntitySchema {
    /// An entity set that takes `$select` only (no `$filter`, nothing to expand).
    #[must_use]
    pub const fn select_only(
        name: &'static str,
        type_name: &'static str,
        resource: &'static str,
        properties: &'static [Property],
    ) -> Self {
        Self::new(name, type_name, resource, "", properties, false, &[])
    }

    /// An entity set's schema, field by field (in the struct's order).
    #[must_use]
    pub const fn new(
        name: &'static str,
        type_name: &'static str,
        resource: &'static str,
        alias: &'static str,
        properties: &'static [Property],
        filter: bool,
        expand: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            type_name,
            resource,
            alias,
            properties,
            filter,
            expand,
        }
    }

    /// The property named `name`, case-insensitively (OData names are case-sensitive, Graph's
    /// directory accepts any case).
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        find(self.properties, name)
    }

    /// The names `$select` accepts, in schema order.
    pub fn selectable(&self) -> impl Iterator<Item = &'static str> {
        self.properties.iter().filter(|p| p.select).map(|p| p.name)
    }
}

pub(crate) fn find(props: &'static [Property], name: &str) -> Option<&'static Property> {
    props.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

const fn text(name: &'static str, col: &'static str) -> Property {
    Property::filterable(
        name,
        Type::String,
        FilterOps::DIRECTORY_STRING,
        Sql::same(col),
        Case::Insensitive,
    )
}

// ---- users ---------------------------------------------------------------------------------

const SKU_ID_OF_ASSIGNMENT: Property = Property::filterable(
    "skuId",
    Type::Guid,
    FilterOps::ELEMENT_GUID,
    Sql::same("la.sku_id"),
    Case::Exact,
);

/// `user.assignedLicenses`: the SKUs the user holds, from any source.
pub static USER_ASSIGNED_LICENSES: Collection = Collection {
    type_name: "microsoft.graph.assignedLicense",
    from: Sql::same(concat!(
        "license_assignments la WHERE la.user_id = u.id AND ",
        allot_core::sql_holds_license!("la")
    )),
    element: &[
        SKU_ID_OF_ASSIGNMENT,
        Property::plain("disabledPlans", Type::Opaque),
    ],
};

/// `user.licenseDetails` (navigation): one per held SKU, like `assignedLicenses`.
pub static USER_LICENSE_DETAILS: Collection = Collection {
    type_name: "microsoft.graph.licenseDetails",
    from: USER_ASSIGNED_LICENSES.from,
    element: &[
        SKU_ID_OF_ASSIGNMENT,
        Property::plain("id", Type::String),
        Property::plain("skuPartNumber", Type::String),
        Property::plain("servicePlans", Type::Opaque),
    ],
};

pub static USER_PROPERTIES: [Property; 26] = [
    Property::filterable(
        "id",
        Type::Guid,
        FilterOps::DIRECTORY_ID,
        Sql::same("u.id"),
        Case::Exact,
    )
    .sortable(A),
    Property::plain("businessPhones", Type::Opaque),
    text("displayName", "u.display_name").sortable(D).searchable(),
    text("givenName", "u.given_name").searchable(),
    text("jobTitle", "u.job_title").searchable(),
    text("mail", "u.mail").searchable(),
    Property::plain("mobilePhone", Type::String),
    Property::plain("officeLocation", Type::String),
    Property::plain("preferredLanguage", Type::String),
    text("surname", "u.surname").searchable(),
    Property::filterable(
        "userPrincipalName",
        Type::String,
        FilterOps::DIRECTORY_STRING,
        Sql::same("u.upn_lower"),
        Case::Lowered,
    )
    .sortable(D)
    .searchable(),
    Property::filterable(
        "accountEnabled",
        Type::Bool,
        FilterOps::DIRECTORY_BOOL,
        Sql::same("u.account_enabled"),
        Case::Exact,
    ),
    Property::filterable(
        "usageLocation",
        Type::String,
        FilterOps::NONE
            .with(D, &[Op::Eq, Op::In, Op::GeLe, Op::StartsWith])
            .with(A, &[Op::Ne, Op::Not, Op::EqNull]),
        Sql::same("u.usage_location"),
        Case::Insensitive,
    ),
    Property::filterable(
        "assignedLicenses",
        Type::Collection(&USER_ASSIGNED_LICENSES),
        FilterOps::LICENSE_COLLECTION,
        Sql::same(""),
        Case::Exact,
    ),
    Property::plain("assignedPlans", Type::Opaque),
    Property::plain("licenseAssignmentStates", Type::Opaque),
    Property::plain("provisionedPlans", Type::Opaque),
    Property::filterable(
        "createdDateTime",
        Type::DateTime,
        FilterOps::DIRECTORY_DATETIME,
        Sql::same("u.created_at"),
        Case::Exact,
    )
    .sortable(A),
    Property::plain("deletedDateTime", Type::DateTime),
    text("mailNickname", "u.mail_nickname").searchable(),
    Property::plain("otherMails", Type::Opaque),
    Property::plain("proxyAddresses", Type::Opaque),
    Property::plain("userType", Type::String),
    Property::plain("onPremisesImmutableId", Type::String),
    Property {
        select: false,
        ..Property::filterable(
            "licenseDetails",
            Type::Collection(&USER_LICENSE_DETAILS),
            FilterOps::NONE.with(D, &[Op::Any]).with(A, &[Op::Not]),
            Sql::same(""),
            Case::Exact,
        )
    },
    // Beta: Allot never needs reconciliation, so the property is constantly false. Not
    // rendered, so filter-only.
    Property::filterable(
        "isLicenseReconciliationNeeded",
        Type::Bool,
        FilterOps::NONE.with(D, &[Op::Eq]),
        Sql {
            sqlite: "0",
            postgres: "false",
        },
        Case::Exact,
    )
    .filter_only(),
];

/// `microsoft.graph.user` (`/users`, `members` casts, `membersWithLicenseErrors`).
pub static USERS: EntitySchema = EntitySchema::new(
    "user",
    "microsoft.graph.user",
    "User",
    "u",
    &USER_PROPERTIES,
    true,
    &[],
);

// ---- groups --------------------------------------------------------------------------------

/// `group.assignedLicenses`: the JSON array in `groups.assigned_licenses`.
pub static GROUP_ASSIGNED_LICENSES: Collection = Collection {
    type_name: "microsoft.graph.assignedLicense",
    from: Sql {
        sqlite: "json_each(g.assigned_licenses) WHERE 1 = 1",
        postgres: "jsonb_array_elements(CAST(g.assigned_licenses AS jsonb)) AS value WHERE TRUE",
    },
    element: &[
        Property::filterable(
            "skuId",
            Type::Guid,
            FilterOps::ELEMENT_GUID,
            Sql {
                sqlite: "json_extract(value, '$.skuId')",
                postgres: "CAST(value->>'skuId' AS uuid)",
            },
            Case::Exact,
        ),
        Property::plain("disabledPlans", Type::Opaque),
    ],
};

pub static GROUP_PROPERTIES: [Property; 29] = [
    Property::filterable(
        "id",
        Type::Guid,
        FilterOps::DIRECTORY_ID,
        Sql::same("g.id"),
        Case::Exact,
    )
    .sortable(A),
    Property::plain("deletedDateTime", Type::DateTime),
    Property::plain("classification", Type::String),
    Property::filterable(
        "createdDateTime",
        Type::DateTime,
        FilterOps::DIRECTORY_DATETIME,
        Sql::same("g.created_at"),
        Case::Exact,
    )
    .sortable(A),
    Property::plain("creationOptions", Type::Opaque),
    text("description", "g.description").searchable(),
    text("displayName", "g.display_name").sortable(D).searchable(),
    Property::plain("expirationDateTime", Type::DateTime),
    Property::plain("groupTypes", Type::Opaque),
    Property::plain("isAssignableToRole", Type::Bool),
    Property::plain("mail", Type::String),
    Property::filterable(
        "mailEnabled",
        Type::Bool,
        FilterOps::DIRECTORY_BOOL,
        Sql::same("g.mail_enabled"),
        Case::Exact,
    ),
    text("mailNickname", "g.mail_nickname").searchable(),
    Property::plain("membershipRule", Type::String),
    Property::plain("membershipRuleProcessingState", Type::String),
    Property::plain("onPremisesSyncEnabled", Type::Bool),
    Property::plain("preferredDataLocation", Type::String),
    Property::plain("preferredLanguage", Type::String),
    Property::plain("proxyAddresses", Type::Opaque),
    Property::plain("renewedDateTime", Type::DateTime),
    Property::plain("resourceBehaviorOptions", Type::Opaque),
    Property::plain("resourceProvisioningOptions", Type::Opaque),
    Property::filterable(
        "securityEnabled",
        Type::Bool,
        FilterOps::DIRECTORY_BOOL,
        Sql::same("g.security_enabled"),
        Case::Exact,
    ),
    Property::plain("securityIdentifier", Type::String),
    Property::plain("theme", Type::String),
    Property::plain("visibility", Type::String),
    Property::filterable(
        "assignedLicenses",
        Type::Collection(&GROUP_ASSIGNED_LICENSES),
        FilterOps::LICENSE_COLLECTION,
        Sql::same(""),
        Case::Exact,
    ),
    Property::plain("licenseProcessingState", Type::Opaque),
    // Filter-only (spec §2.10): `eq` and `eq null` by default; never returned.
    Property::filterable(
        "hasMembersWithLicenseErrors",
        Type::Bool,
        FilterOps::NONE.with(D, &[Op::Eq, Op::EqNull]),
        Sql::same(concat!(
            "EXISTS (SELECT 1 FROM license_assignments le WHERE le.source_group_id = g.id AND ",
            allot_core::sql_in_error!("le"),
            ")"
        )),
        Case::Exact,
    )
    .filter_only(),
];

/// `microsoft.graph.group` (`/groups`).
pub static GROUPS: EntitySchema = EntitySchema::new(
    "group",
    "microsoft.graph.group",
    "Group",
    "g",
    &GROUP_PROPERTIES,
    true,
    &[],
);

// ---- directory objects (members) -----------------------------------------------------------

pub static DIRECTORY_OBJECT_PROPERTIES: [Property; 2] = [
    Property::filterable(
        "id",
        Type::Guid,
        FilterOps::DIRECTORY_ID,
        Sql::same("m.member_id"),
        Case::Exact,
    )
    .sortable(A),
    // The member's own name (a user's or a group's): sorted in advanced mode, as Graph sorts
    // members; not filtered.
    Property::filterable(
        "displayName",
        Type::String,
        FilterOps::NONE,
        Sql::same("COALESCE(mu.display_name, mg.display_name)"),
        Case::Insensitive,
    )
    .sortable(A),
];

/// `microsoft.graph.directoryObject` (`/groups/{id}/members`): members are users or groups, so
/// only `id` (and, to sort by, `displayName`) is common to them. The membership row is aliased
/// `m`, the member's user row `mu`, its group row `mg`.
pub static DIRECTORY_OBJECTS: EntitySchema = EntitySchema::new(
    "directoryObject",
    "microsoft.graph.directoryObject",
    "DirectoryObject",
    "m",
    &DIRECTORY_OBJECT_PROPERTIES,
    true,
    &[],
);

mod audits;
pub use audits::{AUDIT_TARGETS, DIRECTORY_AUDIT_PROPERTIES, DIRECTORY_AUDITS};

// ---- subscribedSkus, licenseDetails: $select only -------------------------------------------

pub static SUBSCRIBED_SKU_PROPERTIES: [Property; 11] = [
    Property::plain("accountId", Type::String),
    Property::plain("accountName", Type::String),
    Property::plain("appliesTo", Type::String),
    Property::plain("capabilityStatus", Type::String),
    Property::plain("consumedUnits", Type::Int),
    Property::plain("id", Type::String),
    Property::plain("prepaidUnits", Type::Opaque),
    Property::plain("servicePlans", Type::Opaque),
    Property::plain("skuId", Type::Guid),
    Property::plain("skuPartNumber", Type::String),
    Property::plain("subscriptionIds", Type::Opaque),
];

/// `microsoft.graph.subscribedSku`: `$select` only (spec §1.1 row 3).
pub static SUBSCRIBED_SKUS: EntitySchema = EntitySchema::select_only(
    "subscribedSku",
    "microsoft.graph.subscribedSku",
    "SubscribedSku",
    &SUBSCRIBED_SKU_PROPERTIES,
);

pub static LICENSE_DETAILS_PROPERTIES: [Property; 4] = [
    Property::plain("id", Type::String),
    Property::plain("servicePlans", Type::Opaque),
    Property::plain("skuId", Type::Guid),
    Property::plain("skuPartNumber", Type::String),
];

/// `microsoft.graph.licenseDetails`: `$select` only (spec §1.1 row 5).
pub static LICENSE_DETAILS: EntitySchema = EntitySchema::select_only(
    "licenseDetails",
    "microsoft.graph.licenseDetails",
    "LicenseDetails",
    &LICENSE_DETAILS_PROPERTIES,
);
