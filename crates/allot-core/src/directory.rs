//! Directory roles (Entra built-in role templates) and the permission names Allot checks.

/// A built-in directory role: its display name and its template id (the `wids` claim value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub name: &'static str,
    pub template_id: &'static str,
}

impl Role {
    #[must_use]
    pub const fn new(name: &'static str, template_id: &'static str) -> Self {
        Self { name, template_id }
    }
}

pub const GLOBAL_ADMINISTRATOR: Role =
    Role::new("Global Administrator", "62e90394-69f5-4237-9190-012177145e10");
pub const USER_ADMINISTRATOR: Role = Role::new("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1");
pub const LICENSE_ADMINISTRATOR: Role =
    Role::new("License Administrator", "4d6ac14f-3453-41d0-bef9-a3e0c569773a");
pub const GROUPS_ADMINISTRATOR: Role =
    Role::new("Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c");
pub const DIRECTORY_READERS: Role = Role::new("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b");
pub const DIRECTORY_WRITERS: Role = Role::new("Directory Writers", "9360feb5-f418-4baa-8175-e2a00bac4301");
pub const GLOBAL_READER: Role = Role::new("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451");
pub const REPORTS_READER: Role = Role::new("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf");
pub const SECURITY_READER: Role = Role::new("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509");
pub const GUEST_INVITER: Role = Role::new("Guest Inviter", "95e79109-95c0-4d8e-aee3-d01accf2d47b");
pub const HELPDESK_ADMINISTRATOR: Role =
    Role::new("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8");
pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: Role = Role::new(
    "Privileged Authentication Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
);
pub const PRIVILEGED_ROLE_ADMINISTRATOR: Role = Role::new(
    "Privileged Role Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
);

/// Every role a tenant file may grant.
pub const ROLES: &[Role] = &[
    GLOBAL_ADMINISTRATOR,
    USER_ADMINISTRATOR,
    LICENSE_ADMINISTRATOR,
    GROUPS_ADMINISTRATOR,
    DIRECTORY_READERS,
    DIRECTORY_WRITERS,
    GLOBAL_READER,
    GUEST_INVITER,
    HELPDESK_ADMINISTRATOR,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    REPORTS_READER,
    SECURITY_READER,
];

/// Finds a role by display name (case-insensitive) or template id.
#[must_use]
pub fn role(name_or_id: &str) -> Option<Role> {
    ROLES.iter().copied().find(|r| {
        r.name.eq_ignore_ascii_case(name_or_id.trim())
            || r.template_id.eq_ignore_ascii_case(name_or_id.trim())
    })
}

/// Microsoft Graph permission names Allot grants and checks (application roles and delegated scopes).
pub const GRAPH_PERMISSIONS: &[&str] = &[
    "AuditLog.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Group.Create",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "User.DeleteRestore.All",
    "User.Read",
    "User.Read.All",
    "User.ReadBasic.All",
    "User.ReadWrite.All",
    "CloudLicensing.Read",
    "CloudLicensing.Read.All",
    "CloudLicensing.AssignLicenses",
    "CloudLicensing.AssignLicenses.Organization",
    "User-CloudLicensing.Read",
    "User-CloudLicensing.Read.All",
    "User-CloudLicensing.AssignLicenses",
    "User-CloudLicensing.AssignLicenses.Organization",
    "Group-CloudLicensing.Read",
    "Group-CloudLicensing.Read.All",
    "Group-CloudLicensing.AssignLicenses",
    "Group-CloudLicensing.AssignLicenses.Organization",
    "User-UsageRight.Read",
    "User-UsageRight.Read.All",
    "Group-UsageRight.Read.All",
];

/// The delegated scopes of the Partner Center API (resource `https://api.partnercenter.microsoft.com`).
pub const PARTNER_CENTER_SCOPES: &[&str] = &["user_impersonation"];

/// Whether `name` is a permission Allot knows (case-insensitive, as Entra compares them).
#[must_use]
pub fn is_known_permission(name: &str) -> bool {
    GRAPH_PERMISSIONS
        .iter()
        .chain(PARTNER_CENTER_SCOPES)
        .any(|p| p.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_resolve_by_name_or_template_id() {
        assert_eq!(role("global administrator"), Some(GLOBAL_ADMINISTRATOR));
        assert_eq!(
            role("4d6ac14f-3453-41d0-bef9-a3e0c569773a"),
            Some(LICENSE_ADMINISTRATOR)
        );
        assert_eq!(role("Chief Licensing Wizard"), None);
    }
}
