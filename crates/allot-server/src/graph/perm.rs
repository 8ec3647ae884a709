//! Who may call what: each operation's permissions, as its upstream page lists them (least
//! privileged and higher), and for delegated calls the directory roles that may act on others.

use allot_core::directory::{
    DIRECTORY_READERS, DIRECTORY_WRITERS, GLOBAL_ADMINISTRATOR, GLOBAL_READER, GROUPS_ADMINISTRATOR,
    LICENSE_ADMINISTRATOR, REPORTS_READER, Role, SECURITY_READER, USER_ADMINISTRATOR,
};

use super::error::GraphError;
use crate::auth::tokens::Caller;

#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// Application permissions (the `roles` claim) that allow the call.
    pub app: &'static [&'static str],
    /// Delegated scopes (the `scp` claim) that allow the call.
    pub delegated: &'static [&'static str],
    /// Directory roles a delegated caller needs (Global Administrator always qualifies); `None`
    /// when any signed-in member may call (directory reads).
    pub roles: Option<&'static [Role]>,
    /// The signed-in user's own data (`/me/…`): delegated `User.Read` qualifies too.
    pub own: bool,
}

impl Access {
    /// The same permission names for applications and delegated callers.
    #[must_use]
    pub const fn same(names: &'static [&'static str], roles: Option<&'static [Role]>) -> Self {
        Self {
            app: names,
            delegated: names,
            roles,
            own: false,
        }
    }

    /// The same access for the signed-in user's own data, where `User.Read` also qualifies.
    #[must_use]
    pub const fn for_me(mut self) -> Self {
        self.own = true;
        self
    }

    /// 403 unless the caller has one of the permissions (and, delegated, one of the roles).
    pub fn check(&self, caller: &Caller) -> Result<(), GraphError> {
        let has = |granted: &[String], wanted: &[&str]| {
            granted
                .iter()
                .any(|g| wanted.iter().any(|w| w.eq_ignore_ascii_case(g)))
        };
        match caller {
            Caller::App { roles, .. } if has(roles, self.app) => Ok(()),
            Caller::User { scopes, roles, .. }
                if has(scopes, self.delegated) || (self.own && has(scopes, &["User.Read"])) =>
            {
                match self.roles {
                    None => Ok(()),
                    Some(needed) => {
                        let ok = roles.iter().any(|r| {
                            r.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR.template_id)
                                || needed.iter().any(|n| n.template_id.eq_ignore_ascii_case(r))
                        });
                        if ok { Ok(()) } else { Err(GraphError::forbidden()) }
                    }
                }
            }
            _ => Err(GraphError::forbidden()),
        }
    }
}

const USER_READ_APP: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USER_READ_DELEGATED: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
/// `GET /auditLogs/directoryAudits`: `AuditLog.Read.All`; delegated also a reader role.
pub const AUDIT_READ: Access = Access::same(
    &["AuditLog.Read.All"],
    Some(&[GLOBAL_READER, REPORTS_READER, SECURITY_READER]),
);
const USER_ADMIN_ROLES: &[Role] = &[USER_ADMINISTRATOR, DIRECTORY_WRITERS];
const GROUP_ADMIN_ROLES: &[Role] = &[GROUPS_ADMINISTRATOR, USER_ADMINISTRATOR, DIRECTORY_WRITERS];

pub const USERS_READ: Access = Access {
    app: USER_READ_APP,
    delegated: USER_READ_DELEGATED,
    roles: None,
    own: false,
};
pub const ME_READ: Access = Access {
    app: USER_READ_APP,
    delegated: &[
        "User.Read",
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: None,
    own: false,
};
pub const USERS_CREATE: Access = Access::same(USER_WRITE, Some(USER_ADMIN_ROLES));
pub const USERS_UPDATE: Access = Access::same(USER_WRITE, Some(USER_ADMIN_ROLES));
pub const USERS_DELETE: Access = Access {
    app: &[
        "User.ReadWrite.All",
        "User.DeleteRestore.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User.ReadWrite.All",
        "User.DeleteRestore.All",
        "Directory.ReadWrite.All",
    ],
    roles: Some(&[USER_ADMINISTRATOR]),
    own: false,
};
const ASSIGN: &[&str] = &[
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
pub const ASSIGN_LICENSE: Access = Access::same(
    ASSIGN,
    Some(&[DIRECTORY_WRITERS, LICENSE_ADMINISTRATOR, USER_ADMINISTRATOR]),
);
const DETAILS: &[&str] = &[
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const LICENSE_DETAILS: Access = Access::same(DETAILS, None);
pub const ME_LICENSE_DETAILS: Access = LICENSE_DETAILS.for_me();
const SKUS: &[&str] = &[
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// (inferred) delegated reads of the tenant's subscriptions need a reader or licensing role.
pub const SUBSCRIBED_SKUS: Access = Access {
    app: SKUS,
    delegated: SKUS,
    roles: Some(&[
        GLOBAL_READER,
        DIRECTORY_READERS,
        DIRECTORY_WRITERS,
        LICENSE_ADMINISTRATOR,
        USER_ADMINISTRATOR,
    ]),
    own: false,
};
const GROUP_ASSIGN: &[&str] = &[
    "LicenseAssignment.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
pub const GROUP_ASSIGN_LICENSE: Access = Access {
    app: GROUP_ASSIGN,
    delegated: GROUP_ASSIGN,
    roles: Some(&[
        DIRECTORY_WRITERS,
        GROUPS_ADMINISTRATOR,
        LICENSE_ADMINISTRATOR,
        USER_ADMINISTRATOR,
    ]),
    own: false,
};
pub const REPROCESS: Access = Access {
    app: &[
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
        "LicenseAssignment.ReadWrite.All",
    ],
    delegated: &[
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
        "LicenseAssignment.ReadWrite.All",
    ],
    roles: Some(&[DIRECTORY_WRITERS, LICENSE_ADMINISTRATOR, USER_ADMINISTRATOR]),
    own: false,
};
const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const GROUPS_READ: Access = Access::same(GROUP_READ, None);
pub const GROUPS_CREATE: Access = Access {
    app: &["Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All"],
    delegated: &["Group.ReadWrite.All", "Directory.ReadWrite.All"],
    roles: Some(GROUP_ADMIN_ROLES),
    own: false,
};
const GROUP_WRITE: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];
pub const GROUPS_WRITE: Access = Access::same(GROUP_WRITE, Some(GROUP_ADMIN_ROLES));
const MEMBERS: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
pub const MEMBERS_WRITE: Access = Access::same(MEMBERS, Some(GROUP_ADMIN_ROLES));
const MEMBER_OF: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const MEMBER_OF_READ: Access = Access::same(MEMBER_OF, None);
pub const ME_MEMBER_OF: Access = MEMBER_OF_READ.for_me();

// ---- beta cloudLicensing (spec §1.3 C1–C22) ---------------------------------------------------
// The published tables differ between revisions; each set is the union of the least privileged
// and higher permissions the spec lists for the operation. (inferred) Delegated reads of the
// whole organization need a reader or licensing role, delegated writes a licensing role, as for
// subscribedSkus and assignLicense; reads of one principal need no role.

const CL_READ_ROLES: &[Role] = &[
    GLOBAL_READER,
    DIRECTORY_READERS,
    DIRECTORY_WRITERS,
    LICENSE_ADMINISTRATOR,
    USER_ADMINISTRATOR,
];
const CL_WRITE_ROLES: &[Role] = &[DIRECTORY_WRITERS, LICENSE_ADMINISTRATOR, USER_ADMINISTRATOR];

/// C1, C2 (admin), C3 (admin), C4, C9/C13 (admin), C14/C15 (admin), C20, C22 (admin).
pub const CL_ADMIN_READ: Access = Access {
    app: &[
        "CloudLicensing.Read.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "CloudLicensing.Read",
        "CloudLicensing.Read.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: Some(CL_READ_ROLES),
    own: false,
};
/// C3, C9, C13, C14, C15, C19, C21, C22 and C2 under a user.
pub const CL_USER_READ: Access = Access {
    app: &[
        "CloudLicensing.Read.All",
        "User-CloudLicensing.Read.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "CloudLicensing.Read",
        "CloudLicensing.Read.All",
        "User-CloudLicensing.Read",
        "User-CloudLicensing.Read.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: None,
    own: false,
};
/// As [`CL_USER_READ`], under `/me` (a signed-in user may read their own with `User.Read`).
pub const CL_ME_READ: Access = CL_USER_READ.for_me();
/// C16, C18 (user).
pub const CL_USER_USAGE_RIGHTS: Access = Access {
    app: &[
        "User-UsageRight.Read.All",
        "User-CloudLicensing.Read.All",
        "CloudLicensing.Read.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User-UsageRight.Read",
        "User-UsageRight.Read.All",
        "User-CloudLicensing.Read",
        "User-CloudLicensing.Read.All",
        "CloudLicensing.Read",
        "CloudLicensing.Read.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: None,
    own: false,
};
/// C16, C18 under `/me`.
pub const CL_ME_USAGE_RIGHTS: Access = CL_USER_USAGE_RIGHTS.for_me();
/// C3, C9, C13 and C2 under a group.
pub const CL_GROUP_READ: Access = Access {
    app: &[
        "CloudLicensing.Read.All",
        "Group-CloudLicensing.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "CloudLicensing.Read",
        "CloudLicensing.Read.All",
        "Group-CloudLicensing.Read",
        "Group-CloudLicensing.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: None,
    own: false,
};
/// C17, C18 (group).
pub const CL_GROUP_USAGE_RIGHTS: Access = Access {
    app: &[
        "Group-UsageRight.Read.All",
        "Group-CloudLicensing.Read.All",
        "CloudLicensing.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "Group-UsageRight.Read.All",
        "Group-CloudLicensing.Read",
        "Group-CloudLicensing.Read.All",
        "CloudLicensing.Read",
        "CloudLicensing.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    roles: None,
    own: false,
};
/// C5, C6, C10, C11 (admin paths).
pub const CL_ADMIN_ASSIGN: Access = Access {
    app: &[
        "CloudLicensing.AssignLicenses.Organization",
        "User-CloudLicensing.AssignLicenses.Organization",
        "Group-CloudLicensing.AssignLicenses.Organization",
        "User.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "CloudLicensing.AssignLicenses",
        "CloudLicensing.AssignLicenses.Organization",
        "User-CloudLicensing.AssignLicenses",
        "User-CloudLicensing.AssignLicenses.Organization",
        "Group-CloudLicensing.AssignLicenses",
        "Group-CloudLicensing.AssignLicenses.Organization",
        "User.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    roles: Some(CL_WRITE_ROLES),
    own: false,
};
/// C7, C10, C11 (user and `/me` paths), C12.
pub const CL_USER_ASSIGN: Access = Access {
    app: &[
        "User-CloudLicensing.AssignLicenses.Organization",
        "CloudLicensing.AssignLicenses.Organization",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User-CloudLicensing.AssignLicenses",
        "User-CloudLicensing.AssignLicenses.Organization",
        "CloudLicensing.AssignLicenses",
        "CloudLicensing.AssignLicenses.Organization",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    roles: Some(CL_WRITE_ROLES),
    own: false,
};
/// C8, C10, C11 (group paths).
pub const CL_GROUP_ASSIGN: Access = Access {
    app: &[
        "CloudLicensing.AssignLicenses.Organization",
        "Group-CloudLicensing.AssignLicenses.Organization",
        "Group.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "CloudLicensing.AssignLicenses",
        "CloudLicensing.AssignLicenses.Organization",
        "Group-CloudLicensing.AssignLicenses",
        "Group-CloudLicensing.AssignLicenses.Organization",
        "Group.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    roles: Some(&[
        DIRECTORY_WRITERS,
        GROUPS_ADMINISTRATOR,
        LICENSE_ADMINISTRATOR,
        USER_ADMINISTRATOR,
    ]),
    own: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use allot_core::ids::{AppId, UserId};

    fn user(scopes: &[&str], roles: &[Role]) -> Caller {
        Caller::User {
            app: AppId::new(),
            user: UserId::new(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            roles: roles.iter().map(|r| r.template_id.to_owned()).collect(),
        }
    }

    #[test]
    fn app_needs_one_listed_permission() {
        let app = |r: &[&str]| Caller::App {
            app: AppId::new(),
            roles: r.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(
            ASSIGN_LICENSE
                .check(&app(&["LicenseAssignment.ReadWrite.All"]))
                .is_ok()
        );
        assert!(
            ASSIGN_LICENSE
                .check(&app(&["licenseassignment.readwrite.all"]))
                .is_ok()
        );
        assert!(ASSIGN_LICENSE.check(&app(&["User.Read.All"])).is_err());
    }

    #[test]
    fn delegated_writes_need_a_role_too() {
        assert!(
            ASSIGN_LICENSE
                .check(&user(&["LicenseAssignment.ReadWrite.All"], &[]))
                .is_err()
        );
        assert!(
            ASSIGN_LICENSE
                .check(&user(
                    &["LicenseAssignment.ReadWrite.All"],
                    &[LICENSE_ADMINISTRATOR]
                ))
                .is_ok()
        );
        assert!(
            ASSIGN_LICENSE
                .check(&user(
                    &["LicenseAssignment.ReadWrite.All"],
                    &[GLOBAL_ADMINISTRATOR]
                ))
                .is_ok()
        );
        assert!(
            ASSIGN_LICENSE
                .check(&user(&["User.Read"], &[GLOBAL_ADMINISTRATOR]))
                .is_err()
        );
        assert!(USERS_READ.check(&user(&["User.Read.All"], &[])).is_ok());
    }
}
