//! The tenant file: YAML or JSON that declares tenants, their subscriptions, apps, users, groups,
//! memberships, directory roles and direct license assignments. `allot serve --seed`, `allot seed`
//! and the admin API all take it; the built-in demo tenant is one (`data/demo-tenant.yaml`).
//!
//! Every object gets a stable id (given, or derived from its tenant and name), so applying the same
//! file twice changes nothing.

use serde::{Deserialize, Serialize};

use crate::catalog::{CatalogExtension, TenantCatalog};
use crate::directory;
use crate::ids::{AppId, GroupId, SubscriptionId, TenantId, UserId};

mod bounded;

/// The demo tenant seeded on a fresh data directory.
pub const DEMO_TENANT_YAML: &str = include_str!("../data/demo-tenant.yaml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantFile {
    pub tenants: Vec<TenantDef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantDef {
    #[serde(default)]
    pub id: Option<TenantId>,
    pub display_name: String,
    pub default_domain: String,
    /// ISO 3166 alpha-2; group-based licensing uses it for users without a usage location.
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default, skip_serializing_if = "CatalogExtension::is_empty")]
    pub catalog: CatalogExtension,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionDef>,
    #[serde(default)]
    pub apps: Vec<AppDef>,
    #[serde(default)]
    pub users: Vec<UserDef>,
    #[serde(default)]
    pub groups: Vec<GroupDef>,
    /// Partner Center: the customers this tenant, as a partner, has a relationship with. Absent:
    /// the relationships stay as they are; a list (even empty) is the whole set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<Vec<CustomerDef>>,
}

/// A partner's relationship with one customer tenant and the GDAP roles it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerDef {
    /// The customer tenant: its id or default domain.
    pub tenant: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// GDAP roles by name or template id.
    pub roles: Vec<String>,
    /// The partner users (UPN or object id) the roles are granted to; empty: every user of the
    /// partner tenant.
    #[serde(default)]
    pub users: Vec<String>,
}

fn default_country() -> String {
    "US".to_owned()
}

const fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionDef {
    #[serde(default)]
    pub id: Option<SubscriptionId>,
    /// SKU part number or GUID.
    pub sku: String,
    #[serde(default)]
    pub enabled: u32,
    #[serde(default)]
    pub warning: u32,
    #[serde(default)]
    pub suspended: u32,
    #[serde(default)]
    pub locked_out: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppDef {
    pub client_id: AppId,
    pub display_name: String,
    pub client_secret: String,
    #[serde(default)]
    pub application_permissions: Vec<String>,
    #[serde(default)]
    pub delegated_scopes: Vec<String>,
    /// PEM public certificates the app may sign client assertions with (certificate
    /// credentials), besides its secret.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Where the authorization-code flow may redirect (exact match, as Entra).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// A public client: the authorization-code (with PKCE), device-code and refresh grants need
    /// no secret (Entra's "allow public client flows").
    #[serde(default)]
    pub public_client: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserDef {
    #[serde(default)]
    pub id: Option<UserId>,
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub usage_location: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub directory_roles: Vec<String>,
    #[serde(default)]
    pub licenses: Vec<LicenseDef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LicenseDef {
    /// SKU part number or GUID.
    pub sku: String,
    /// Service plan names or GUIDs.
    #[serde(default)]
    pub disabled_plans: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupDef {
    #[serde(default)]
    pub id: Option<GroupId>,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default = "yes")]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default)]
    pub group_types: Vec<String>,
    /// Members by user principal name or object id.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantFileError {
    #[error("tenant file is not valid YAML or JSON: {0}")]
    Syntax(String),
    #[error("tenant file: {0}")]
    Invalid(String),
}

impl TenantFile {
    /// Parses YAML, or JSON when the text starts with `{` (for its clearer error positions).
    pub fn parse(text: &str) -> Result<Self, TenantFileError> {
        let file: Self = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| TenantFileError::Syntax(e.to_string()))?
        } else {
            // YAML aliases may repeat a node many times over ("billion laughs"): the document
            // is first walked without keeping anything, against a budget of its own size.
            bounded::check(text)?;
            serde_norway::from_str(text).map_err(|e| TenantFileError::Syntax(e.to_string()))?
        };
        file.validate()?;
        // Text no backend can store (`crate::text`), anywhere in the file.
        let doc = serde_json::to_value(&file).map_err(|e| TenantFileError::Invalid(e.to_string()))?;
        if let Some(path) = crate::text::unstorable_in(&doc) {
            return Err(TenantFileError::Invalid(format!(
                "{} cannot contain the NUL character",
                path.join(".")
            )));
        }
        Ok(file)
    }

    #[must_use]
    pub fn demo() -> Self {
        match Self::parse(DEMO_TENANT_YAML) {
            Ok(f) => f,
            // The demo file is compiled in and parsed by a unit test; failing here is a build defect.
            Err(e) => panic!("built-in demo tenant is invalid: {e}"),
        }
    }

    /// Checks what the types cannot: names resolve, UPNs are unique, members exist.
    pub fn validate(&self) -> Result<(), TenantFileError> {
        let bad = |m: String| Err(TenantFileError::Invalid(m));
        let mut domains = std::collections::BTreeSet::new();
        for t in &self.tenants {
            if !domains.insert(t.default_domain.to_ascii_lowercase()) {
                return bad(format!("domain {} is declared twice", t.default_domain));
            }
            if !is_country_code(&t.country) {
                return bad(format!(
                    "tenant {}: country '{}' is not an ISO 3166 alpha-2 code",
                    t.default_domain, t.country
                ));
            }
            let catalog = TenantCatalog::with_extension(&t.catalog)
                .map_err(|e| TenantFileError::Invalid(format!("tenant {}: {e}", t.default_domain)))?;
            for s in &t.subscriptions {
                if catalog.resolve_sku(&s.sku).is_none() {
                    return bad(format!("tenant {}: unknown SKU '{}'", t.default_domain, s.sku));
                }
            }
            for a in &t.apps {
                for p in a.application_permissions.iter().chain(&a.delegated_scopes) {
                    if !directory::is_known_permission(p) {
                        return bad(format!("app {}: unknown permission '{p}'", a.client_id));
                    }
                }
            }
            let mut upns = std::collections::BTreeSet::new();
            for u in &t.users {
                if !u.user_principal_name.contains('@') {
                    return bad(format!(
                        "user '{}': userPrincipalName needs a domain",
                        u.user_principal_name
                    ));
                }
                // The API's rules for names: the characters Entra allows, its lengths.
                let local = u.user_principal_name.rsplit_once('@').map_or("", |(l, _)| l);
                if !crate::text::upn_local_part_ok(local)
                    || u.user_principal_name.chars().count() > crate::text::UPN_MAX
                {
                    return bad(format!(
                        "user '{}': userPrincipalName may use letters, digits and ' . - _ ! # ^ ~ (64 before the @, 113 in all)",
                        u.user_principal_name.escape_default()
                    ));
                }
                if u.display_name.chars().count() > crate::text::max_len("displayName").unwrap_or(usize::MAX)
                {
                    return bad(format!(
                        "user {}: displayName is longer than 256 characters",
                        u.user_principal_name
                    ));
                }
                if !upns.insert(u.user_principal_name.to_ascii_lowercase()) {
                    return bad(format!("user {} is declared twice", u.user_principal_name));
                }
                if let Some(l) = &u.usage_location
                    && !is_country_code(l)
                {
                    return bad(format!(
                        "user {}: usageLocation '{l}' is not ISO 3166 alpha-2",
                        u.user_principal_name
                    ));
                }
                for r in &u.directory_roles {
                    if directory::role(r).is_none() {
                        return bad(format!(
                            "user {}: unknown directory role '{r}'",
                            u.user_principal_name
                        ));
                    }
                }
                for l in &u.licenses {
                    let Some(sku) = catalog.resolve_sku(&l.sku) else {
                        return bad(format!("user {}: unknown SKU '{}'", u.user_principal_name, l.sku));
                    };
                    for p in &l.disabled_plans {
                        let plan = catalog
                            .resolve_plan(p)
                            .map_err(|e| TenantFileError::Invalid(e.to_string()))?;
                        if !sku.has_plan(plan) {
                            return bad(format!(
                                "user {}: plan '{p}' is not in {}",
                                u.user_principal_name, sku.part_number
                            ));
                        }
                    }
                }
            }
            for c in t.customers.iter().flatten() {
                if c.tenant.eq_ignore_ascii_case(&t.default_domain)
                    || c.tenant.eq_ignore_ascii_case(&t.tenant_id().to_string())
                {
                    return bad(format!(
                        "tenant {}: a tenant cannot be its own customer",
                        t.default_domain
                    ));
                }
                if c.roles.is_empty() {
                    return bad(format!(
                        "tenant {}: the relationship with {} grants no role",
                        t.default_domain, c.tenant
                    ));
                }
                for r in &c.roles {
                    if !crate::partner::GDAP_ROLES
                        .iter()
                        .any(|g| Some(*g) == directory::role(r))
                    {
                        return bad(format!(
                            "tenant {}: '{r}' is not a GDAP role Allot grants",
                            t.default_domain
                        ));
                    }
                }
                for u in &c.users {
                    if t.member_id(u).is_none() {
                        return bad(format!(
                            "tenant {}: relationship user '{u}' is not a user of the tenant",
                            t.default_domain
                        ));
                    }
                }
            }
            for g in &t.groups {
                for m in &g.members {
                    let known = upns.contains(&m.to_ascii_lowercase())
                        || t.users
                            .iter()
                            .any(|u| u.id.is_some_and(|id| id.to_string().eq_ignore_ascii_case(m)));
                    if !known {
                        return bad(format!(
                            "group {}: member '{m}' is not a user of the file",
                            g.display_name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl TenantDef {
    /// The tenant id: given, or derived from the default domain.
    #[must_use]
    pub fn tenant_id(&self) -> TenantId {
        self.id
            .unwrap_or_else(|| TenantId::derived(&[&self.default_domain.to_ascii_lowercase()]))
    }

    #[must_use]
    pub fn user_id(&self, u: &UserDef) -> UserId {
        u.id.unwrap_or_else(|| {
            UserId::derived(&[
                &self.tenant_id().to_string(),
                &u.user_principal_name.to_ascii_lowercase(),
            ])
        })
    }

    #[must_use]
    pub fn group_id(&self, g: &GroupDef) -> GroupId {
        g.id.unwrap_or_else(|| {
            GroupId::derived(&[
                &self.tenant_id().to_string(),
                &g.display_name.to_ascii_lowercase(),
            ])
        })
    }

    #[must_use]
    pub fn subscription_id(&self, s: &SubscriptionDef, index: usize) -> SubscriptionId {
        s.id.unwrap_or_else(|| {
            SubscriptionId::derived(&[
                &self.tenant_id().to_string(),
                &s.sku.to_ascii_lowercase(),
                &index.to_string(),
            ])
        })
    }

    /// The id of a member named by UPN or object id.
    #[must_use]
    pub fn member_id(&self, name: &str) -> Option<UserId> {
        self.users
            .iter()
            .find(|u| {
                u.user_principal_name.eq_ignore_ascii_case(name)
                    || u.id.is_some_and(|id| id.to_string() == name)
            })
            .map(|u| self.user_id(u))
    }
}

/// Two ASCII capital letters (Graph compares usage locations case-insensitively and stores capitals).
#[must_use]
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_tenant_parses_and_has_what_the_readme_promises() {
        let f = TenantFile::demo();
        let t = &f.tenants[0];
        assert_eq!(t.default_domain, "contoso.example");
        let admin = t
            .users
            .iter()
            .find(|u| u.user_principal_name == "admin@contoso.example")
            .unwrap();
        assert!(admin.directory_roles.iter().any(|r| r == "Global Administrator"));
        assert!(t.users.len() >= 24, "a few dozen users");
        assert!(t.groups.len() >= 4);
        for part in ["ENTERPRISEPACK", "SPE_E5", "EMS", "POWER_BI_PRO", "MEE_FACULTY"] {
            assert!(t.subscriptions.iter().any(|s| s.sku == part), "{part}");
        }
        assert_eq!(t.tenant_id(), f.tenants[0].tenant_id());
    }

    #[test]
    fn json_and_yaml_say_the_same_thing() {
        let yaml = "tenants:\n  - displayName: A\n    defaultDomain: a.example\n";
        let json = r#"{"tenants":[{"displayName":"A","defaultDomain":"a.example"}]}"#;
        assert_eq!(TenantFile::parse(yaml).unwrap(), TenantFile::parse(json).unwrap());
    }

    #[test]
    fn invalid_files_are_refused_with_a_reason() {
        let cases = [
            (
                "tenants: [{displayName: A, defaultDomain: a.example, bogus: 1}]",
                "bogus",
            ),
            (
                "tenants: [{displayName: A, defaultDomain: a.example, subscriptions: [{sku: NOPE}]}]",
                "NOPE",
            ),
            (
                "tenants: [{displayName: A, defaultDomain: a.example, country: USA}]",
                "USA",
            ),
            (
                "tenants: [{displayName: A, defaultDomain: a.example, users: [{userPrincipalName: x@a.example, displayName: X, directoryRoles: [Wizard]}]}]",
                "Wizard",
            ),
            (
                "tenants: [{displayName: A, defaultDomain: a.example, groups: [{displayName: G, members: [ghost@a.example]}]}]",
                "ghost",
            ),
            (
                "tenants: [{displayName: A, defaultDomain: a.example}, {displayName: B, defaultDomain: A.example}]",
                "twice",
            ),
        ];
        for (text, needle) in cases {
            let err = TenantFile::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
