//! What the store hands out: typed records, decoded from the rows of both backends.

use allot_core::catalog::CatalogExtension;
use allot_core::ids::{AppId, GroupId, ServicePlanId, SkuId, Source, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{Assignment, AssignmentErrorCode, AssignmentState};
use allot_core::tenant_file::TenantDef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::dbid::DbId;
use crate::error::StoreError;

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising plain data (strings, ids, vectors) cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub display_name: String,
    pub default_domain: String,
    pub country: String,
    pub catalog: CatalogExtension,
    pub seed: Option<TenantDef>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    id: DbId,
    display_name: String,
    default_domain: String,
    country: String,
    catalog_doc: String,
    seed_doc: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: TenantId::from_uuid(r.id.0),
            display_name: r.display_name,
            default_domain: r.default_domain,
            country: r.country,
            catalog: json("tenants.catalog_doc", &r.catalog_doc)?,
            seed: r
                .seed_doc
                .as_deref()
                .map(|s| json("tenants.seed_doc", s))
                .transpose()?,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    pub sku_id: SkuId,
    pub enabled: i64,
    pub warning: i64,
    pub suspended: i64,
    pub locked_out: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    id: DbId,
    tenant_id: DbId,
    sku_id: DbId,
    enabled: i64,
    warning: i64,
    suspended: i64,
    locked_out: i64,
    created_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Self {
        Self {
            id: r.id.0.into(),
            tenant_id: r.tenant_id.0.into(),
            sku_id: r.sku_id.0.into(),
            enabled: r.enabled,
            warning: r.warning,
            suspended: r.suspended,
            locked_out: r.locked_out,
            created_at: r.created_at,
        }
    }
}

/// Units of one SKU in one tenant: the subscriptions' counts added up, and what is consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuUnits {
    pub sku_id: SkuId,
    pub subscription_ids: Vec<SubscriptionId>,
    pub enabled: i64,
    pub warning: i64,
    pub suspended: i64,
    pub locked_out: i64,
    pub consumed: i64,
}

impl SkuUnits {
    /// `subscribedSku.capabilityStatus`, from the best state any unit is in. (inferred)
    #[must_use]
    pub const fn capability_status(&self) -> &'static str {
        if self.enabled > 0 {
            "Enabled"
        } else if self.warning > 0 {
            "Warning"
        } else if self.suspended > 0 {
            "Suspended"
        } else if self.locked_out > 0 {
            "LockedOut"
        } else {
            "Enabled"
        }
    }
}

/// An app registration, read straight from its row: ids through [`DbId`], the permission lists
/// from their JSON text.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct App {
    #[sqlx(try_from = "DbId")]
    pub client_id: AppId,
    #[sqlx(try_from = "DbId")]
    pub tenant_id: TenantId,
    pub display_name: String,
    pub secret_hash: String,
    #[sqlx(try_from = "DbId")]
    pub service_principal_id: Uuid,
    #[sqlx(try_from = "JsonText")]
    pub application_permissions: Vec<String>,
    #[sqlx(try_from = "JsonText")]
    pub delegated_scopes: Vec<String>,
    /// PEM certificates for client assertions.
    #[sqlx(try_from = "JsonText")]
    pub certificates: Vec<String>,
    /// Where the authorization-code flow may send its code.
    #[sqlx(try_from = "JsonText")]
    pub redirect_uris: Vec<String>,
    /// A public client (native or command-line app): interactive grants without a secret.
    pub public_client: bool,
}

/// A JSON array of strings stored as text.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct JsonText(String);

impl<T: serde::de::DeserializeOwned> TryFrom<JsonText> for Vec<T> {
    type Error = serde_json::Error;
    fn try_from(t: JsonText) -> Result<Self, Self::Error> {
        serde_json::from_str(&t.0)
    }
}

impl From<DbId> for AppId {
    fn from(d: DbId) -> Self {
        d.0.into()
    }
}

impl From<DbId> for TenantId {
    fn from(d: DbId) -> Self {
        Self::from_uuid(d.0)
    }
}

impl From<DbId> for GroupId {
    fn from(d: DbId) -> Self {
        Self::from_uuid(d.0)
    }
}

// `From` would make `DbId: Into<Uuid>` and collide with `DbId`'s own `From<T: Into<Uuid>>`.
#[allow(clippy::infallible_try_from)]
impl TryFrom<DbId> for Uuid {
    type Error = std::convert::Infallible;
    fn try_from(d: DbId) -> Result<Self, Self::Error> {
        Ok(d.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub user_principal_name: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail_nickname: Option<String>,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub usage_location: Option<String>,
    pub account_enabled: bool,
    pub password_hash: Option<String>,
    /// Role template ids (the `wids` claim).
    pub directory_roles: Vec<String>,
    /// Partner Center's `immutableId` (the on-premises anchor).
    pub immutable_id: Option<String>,
    /// Partner Center's `phoneNumber`.
    pub phone_number: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// A new enabled user with a fresh id, no password, no roles and only the names given: what
    /// bulk loads (benchmarks, tests) insert.
    #[must_use]
    pub fn new(tenant: TenantId, upn: String, display_name: String, usage_location: Option<String>) -> Self {
        Self {
            id: UserId::new(),
            tenant_id: tenant,
            user_principal_name: upn,
            display_name,
            given_name: None,
            surname: None,
            mail_nickname: None,
            mail: None,
            job_title: None,
            usage_location,
            account_enabled: true,
            password_hash: None,
            directory_roles: vec![],
            immutable_id: None,
            phone_number: None,
            created_at: crate::now(),
        }
    }
}

pub(crate) const USER_COLS: &str = "id, tenant_id, upn, display_name, given_name, surname, mail_nickname, mail, \
     job_title, usage_location, account_enabled, password_hash, directory_roles, immutable_id, phone_number, created_at";

#[derive(sqlx::FromRow)]
#[doc(hidden)]
pub struct UserRow {
    id: DbId,
    tenant_id: DbId,
    upn: String,
    display_name: String,
    given_name: Option<String>,
    surname: Option<String>,
    mail_nickname: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    usage_location: Option<String>,
    account_enabled: bool,
    password_hash: Option<String>,
    directory_roles: String,
    immutable_id: Option<String>,
    phone_number: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id.0.into(),
            tenant_id: r.tenant_id.0.into(),
            user_principal_name: r.upn,
            display_name: r.display_name,
            given_name: r.given_name,
            surname: r.surname,
            mail_nickname: r.mail_nickname,
            mail: r.mail,
            job_title: r.job_title,
            usage_location: r.usage_location,
            account_enabled: r.account_enabled,
            password_hash: r.password_hash,
            directory_roles: json("users.directory_roles", &r.directory_roles)?,
            immutable_id: r.immutable_id,
            phone_number: r.phone_number,
            created_at: r.created_at,
        })
    }
}

/// What a group says it assigns (`group.assignedLicenses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupLicense {
    pub sku_id: SkuId,
    pub disabled_plans: Vec<ServicePlanId>,
}

/// A group, read straight from its row (ids through [`DbId`], lists from their JSON text).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    #[sqlx(try_from = "DbId")]
    pub id: GroupId,
    #[sqlx(try_from = "DbId")]
    pub tenant_id: TenantId,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    #[sqlx(try_from = "JsonText")]
    pub group_types: Vec<String>,
    #[sqlx(try_from = "JsonText")]
    pub assigned_licenses: Vec<GroupLicense>,
    pub created_at: DateTime<Utc>,
}

pub(crate) const GROUP_COLS: &str = "id, tenant_id, display_name, description, mail_nickname, mail_enabled, \
     security_enabled, group_types, assigned_licenses, created_at";

/// A directory object that can be a group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberRef {
    User(UserId),
    Group(GroupId),
}

impl MemberRef {
    #[must_use]
    pub fn uuid(self) -> Uuid {
        match self {
            Self::User(u) => u.as_uuid(),
            Self::Group(g) => g.as_uuid(),
        }
    }

    /// The users and the groups among `refs`, each in order.
    #[must_use]
    pub fn split(refs: &[Self]) -> (Vec<UserId>, Vec<GroupId>) {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for r in refs {
            match r {
                Self::User(u) => users.push(*u),
                Self::Group(g) => groups.push(*g),
            }
        }
        (users, groups)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    pub(crate) user_id: DbId,
    sku_id: DbId,
    source_group_id: DbId,
    disabled_plans: String,
    state: String,
    error: String,
    assigned_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) const ASSIGNMENT_COLS: &str =
    "user_id, sku_id, source_group_id, disabled_plans, state, error, assigned_at, updated_at";

impl TryFrom<AssignmentRow> for Assignment {
    type Error = StoreError;
    fn try_from(r: AssignmentRow) -> Result<Self, StoreError> {
        Ok(Self {
            sku: r.sku_id.0.into(),
            source: Source::from_uuid(r.source_group_id.0),
            disabled_plans: json("license_assignments.disabled_plans", &r.disabled_plans)?,
            state: AssignmentState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("license_assignments.state '{}'", r.state)))?,
            error: AssignmentErrorCode::parse(&r.error)
                .ok_or_else(|| StoreError::Corrupt(format!("license_assignments.error '{}'", r.error)))?,
            assigned_at: r.assigned_at,
            updated_at: r.updated_at,
        })
    }
}

/// A partner's relationship with a customer tenant (Partner Center, GDAP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub id: Uuid,
    pub partner: TenantId,
    pub customer: TenantId,
    pub display_name: String,
    /// Role template ids.
    pub roles: Vec<String>,
    /// The partner users the roles are granted to; empty: every user of the partner tenant.
    pub users: Vec<UserId>,
    pub created_at: DateTime<Utc>,
}

impl Relationship {
    /// The roles `user` of the partner tenant holds in the customer tenant.
    #[must_use]
    pub fn roles_of(&self, user: UserId) -> &[String] {
        if self.users.is_empty() || self.users.contains(&user) {
            &self.roles
        } else {
            &[]
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RelationshipRow {
    id: DbId,
    partner_tenant_id: DbId,
    customer_tenant_id: DbId,
    display_name: String,
    roles: String,
    users: String,
    created_at: DateTime<Utc>,
}

pub(crate) const RELATIONSHIP_COLS: &str =
    "id, partner_tenant_id, customer_tenant_id, display_name, roles, users, created_at";

impl TryFrom<RelationshipRow> for Relationship {
    type Error = StoreError;
    fn try_from(r: RelationshipRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id.0,
            partner: r.partner_tenant_id.0.into(),
            customer: r.customer_tenant_id.0.into(),
            display_name: r.display_name,
            roles: json("partner_relationships.roles", &r.roles)?,
            users: json("partner_relationships.users", &r.users)?,
            created_at: r.created_at,
        })
    }
}

/// A Microsoft 365 group in the 30-day window after deletion.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeletedGroup {
    #[sqlx(flatten)]
    pub group: Group,
    pub deleted_at: DateTime<Utc>,
}

/// A user in the 30-day window after deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedUser {
    pub user: User,
    pub deleted_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeletedUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    deleted_at: DateTime<Utc>,
}

impl TryFrom<DeletedUserRow> for DeletedUser {
    type Error = StoreError;
    fn try_from(r: DeletedUserRow) -> Result<Self, StoreError> {
        Ok(Self {
            user: User::try_from(r.user)?,
            deleted_at: r.deleted_at,
        })
    }
}
