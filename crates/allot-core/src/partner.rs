//! The Partner Center view of the licensing model: license groups, how a SKU is named there, which
//! GDAP roles each operation needs, and the customer-user list filter.
//!
//! Partner Center shows the same subscriptions and assignments as Graph; only the naming differs.
//! Products whose licenses Entra manages are `group1`; Minecraft licenses are `group2` and show no
//! service plans (seed 000). The rules here have no HTTP or SQL in them.

use crate::catalog::{AppliesTo, Sku};
use crate::directory::{
    DIRECTORY_READERS, DIRECTORY_WRITERS, GLOBAL_READER, LICENSE_ADMINISTRATOR,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR, Role, USER_ADMINISTRATOR,
};
use crate::ids::SkuId;

/// `productSku.licenseGroupId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LicenseGroup {
    /// Products whose licenses Entra ID manages.
    Group1,
    /// Minecraft Education licenses.
    Group2,
}

impl LicenseGroup {
    /// The JSON form (`group1`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Group1 => "group1",
            Self::Group2 => "group2",
        }
    }

    /// Reads `Group1`, `group1`, `GROUP2`, ... (query strings use PascalCase, bodies lower case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "group1" => Some(Self::Group1),
            "group2" => Some(Self::Group2),
            _ => None,
        }
    }
}

/// How Partner Center names a SKU (`productSku`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSku {
    pub id: SkuId,
    pub name: String,
    pub sku_part_number: String,
    /// `User` or `Tenant`.
    pub target_type: &'static str,
    pub license_group: LicenseGroup,
}

/// Minecraft Education SKUs: Partner Center's `group2`, named after the commerce product.
/// Faculty is seed 000's example; Student's commerce part number is not published, so it keeps
/// the Graph part number (inferred).
const GROUP2: &[(&str, &str, &str)] = &[
    (
        "984df360-9a74-4647-8cf8-696749f6247a",
        "Minecraft Education Edition Faculty",
        "CFQ7TTC0K5DR/0002",
    ),
    (
        "533b8f26-f74b-4e9c-9c59-50fc4b393b63",
        "Minecraft Education Edition Student",
        "MEE_STUDENT",
    ),
];

impl ProductSku {
    #[must_use]
    pub fn of(sku: &Sku) -> Self {
        let target_type = match sku.applies_to {
            AppliesTo::User => "User",
            AppliesTo::Company => "Tenant",
        };
        let id = sku.id.to_string();
        match GROUP2.iter().find(|(g, _, _)| *g == id) {
            Some((_, name, part)) => Self {
                id: sku.id,
                name: (*name).to_owned(),
                sku_part_number: (*part).to_owned(),
                target_type,
                license_group: LicenseGroup::Group2,
            },
            None => Self {
                id: sku.id,
                name: sku.display_name.clone(),
                sku_part_number: sku.part_number.clone(),
                target_type,
                license_group: LicenseGroup::Group1,
            },
        }
    }

    /// Whether Partner Center lists the SKU's service plans (group2 products show none).
    #[must_use]
    pub fn shows_plans(&self) -> bool {
        self.license_group == LicenseGroup::Group1
    }
}

/// A service plan's `targetType`: plans that serve the whole tenant rather than one user.
#[must_use]
pub fn plan_target_type(service_plan_name: &str) -> &'static str {
    const TENANT_PLANS: &[&str] = &["EXCHANGE_S_FOUNDATION"];
    if TENANT_PLANS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(service_plan_name))
    {
        "Tenant"
    } else {
        "User"
    }
}

/// The operations of the customer-user and license surface, each with the GDAP roles of which
/// any one suffices (spec §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ReadCustomer,
    ListUsers,
    GetUser,
    CreateUser,
    UpdateUser,
    ResetPassword,
    RestoreUser,
    DeleteUser,
    ReadLicenses,
    UpdateLicenses,
    ReadSubscribedSkus,
    ReadUserRoles,
}

impl Operation {
    #[must_use]
    pub const fn roles(self) -> &'static [Role] {
        match self {
            // Reading the customer record needs only the relationship; any role of it will do.
            Self::ReadCustomer => &[],
            Self::ListUsers | Self::GetUser => &[DIRECTORY_READERS, GLOBAL_READER, USER_ADMINISTRATOR],
            Self::CreateUser | Self::UpdateUser | Self::RestoreUser => {
                &[USER_ADMINISTRATOR, DIRECTORY_WRITERS]
            }
            Self::ResetPassword => &[USER_ADMINISTRATOR, PRIVILEGED_AUTHENTICATION_ADMINISTRATOR],
            Self::DeleteUser => &[USER_ADMINISTRATOR],
            Self::ReadLicenses => &[
                DIRECTORY_READERS,
                LICENSE_ADMINISTRATOR,
                USER_ADMINISTRATOR,
                DIRECTORY_WRITERS,
            ],
            Self::UpdateLicenses => &[LICENSE_ADMINISTRATOR, USER_ADMINISTRATOR, DIRECTORY_WRITERS],
            Self::ReadSubscribedSkus => &[
                DIRECTORY_READERS,
                GLOBAL_READER,
                USER_ADMINISTRATOR,
                LICENSE_ADMINISTRATOR,
            ],
            Self::ReadUserRoles => &[
                DIRECTORY_READERS,
                GLOBAL_READER,
                USER_ADMINISTRATOR,
                PRIVILEGED_ROLE_ADMINISTRATOR,
                DIRECTORY_WRITERS,
            ],
        }
    }

    /// Whether a relationship granting `granted` (role template ids) allows the operation.
    #[must_use]
    pub fn allowed_by(self, granted: &[String]) -> bool {
        let needed = self.roles();
        if needed.is_empty() {
            return true;
        }
        granted
            .iter()
            .any(|g| needed.iter().any(|r| r.template_id.eq_ignore_ascii_case(g)))
    }
}

/// The GDAP roles a relationship may grant.
pub const GDAP_ROLES: &[Role] = &[
    DIRECTORY_READERS,
    GLOBAL_READER,
    USER_ADMINISTRATOR,
    LICENSE_ADMINISTRATOR,
    DIRECTORY_WRITERS,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TenantCatalog;

    #[test]
    fn license_groups_read_any_case_and_print_lower_case() {
        assert_eq!(LicenseGroup::parse("Group1"), Some(LicenseGroup::Group1));
        assert_eq!(LicenseGroup::parse("GROUP2"), Some(LicenseGroup::Group2));
        assert_eq!(LicenseGroup::parse("group3"), None);
        assert_eq!(LicenseGroup::Group2.as_str(), "group2");
    }

    #[test]
    fn minecraft_is_group2_under_its_commerce_name_and_the_rest_group1() {
        let c = TenantCatalog::builtin();
        let mee = ProductSku::of(c.resolve_sku("MEE_FACULTY").unwrap());
        assert_eq!(mee.license_group, LicenseGroup::Group2);
        assert_eq!(mee.sku_part_number, "CFQ7TTC0K5DR/0002");
        assert_eq!(mee.name, "Minecraft Education Edition Faculty");
        assert!(!mee.shows_plans());
        let ems = ProductSku::of(c.resolve_sku("EMS").unwrap());
        assert_eq!(
            (ems.license_group, ems.sku_part_number.as_str(), ems.target_type),
            (LicenseGroup::Group1, "EMS", "User")
        );
    }

    #[test]
    fn roles_gate_operations() {
        let reader = vec![DIRECTORY_READERS.template_id.to_owned()];
        assert!(Operation::ListUsers.allowed_by(&reader));
        assert!(Operation::ReadLicenses.allowed_by(&reader));
        assert!(!Operation::UpdateLicenses.allowed_by(&reader));
        assert!(!Operation::DeleteUser.allowed_by(&[DIRECTORY_WRITERS.template_id.to_owned()]));
        assert!(Operation::ReadCustomer.allowed_by(&[]));
        assert_eq!(plan_target_type("EXCHANGE_S_FOUNDATION"), "Tenant");
        assert_eq!(plan_target_type("INTUNE_A"), "User");
    }
}
