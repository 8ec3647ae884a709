//! The product catalog: SKUs, their service plans, and the rules between plans.
//!
//! The built-in catalog is Microsoft's public table of products and service plans
//! (`data/sku-catalog.csv`), the table of mutually exclusive plans (`data/plan-conflicts.csv`) and a
//! short list of plan prerequisites (`data/plan-prerequisites.csv`, all (inferred): Microsoft
//! publishes no such table). A tenant may extend it with its own SKUs and rules
//! ([`CatalogExtension`]); [`TenantCatalog`] is the view a tenant's requests see.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::ids::{ServicePlanId, SkuId};

const SKU_CSV: &str = include_str!("../data/sku-catalog.csv");
const CONFLICT_CSV: &str = include_str!("../data/plan-conflicts.csv");
const PREREQ_CSV: &str = include_str!("../data/plan-prerequisites.csv");

/// `User` SKUs can be assigned to users; `Company` SKUs only apply tenant-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AppliesTo {
    #[default]
    User,
    Company,
}

impl AppliesTo {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Company => "Company",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub id: ServicePlanId,
    pub name: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku {
    pub id: SkuId,
    pub part_number: String,
    pub display_name: String,
    pub applies_to: AppliesTo,
    pub plans: Vec<ServicePlan>,
    /// Usage locations (ISO 3166 alpha-2) where this SKU may not be used.
    pub prohibited_usage_locations: Vec<String>,
}

impl Sku {
    #[must_use]
    pub fn has_plan(&self, plan: ServicePlanId) -> bool {
        self.plans.iter().any(|p| p.id == plan)
    }
}

/// A rule between plans: `plan` is usable only when one of `requires_any_of` is enabled too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    pub plan: ServicePlanId,
    pub requires_any_of: Vec<ServicePlanId>,
}

#[derive(Debug, Default)]
struct Rules {
    /// plan → the conflict sets it belongs to. Two different plans of one set exclude each other.
    conflict_sets: HashMap<ServicePlanId, Vec<String>>,
    prerequisites: HashMap<ServicePlanId, Vec<Vec<ServicePlanId>>>,
}

impl Rules {
    fn add_conflict(&mut self, set: &str, plan: ServicePlanId) {
        let sets = self.conflict_sets.entry(plan).or_default();
        if !sets.iter().any(|s| s == set) {
            sets.push(set.to_owned());
        }
    }

    fn add_prerequisite(&mut self, p: Prerequisite) {
        let rules = self.prerequisites.entry(p.plan).or_default();
        if !rules.contains(&p.requires_any_of) {
            rules.push(p.requires_any_of);
        }
    }
}

/// The built-in catalog, parsed once from the embedded CSV files.
#[derive(Debug)]
pub struct Catalog {
    skus: Vec<Sku>,
    by_id: HashMap<SkuId, usize>,
    by_part: HashMap<String, usize>,
    plan_names: HashMap<String, ServicePlanId>,
    rules: Rules,
}

static BUILTIN: LazyLock<Catalog> =
    LazyLock::new(|| match Catalog::parse(SKU_CSV, CONFLICT_CSV, PREREQ_CSV) {
        Ok(c) => c,
        // The embedded files are part of the binary and covered by tests; a parse failure is a build defect.
        Err(e) => panic!("embedded catalog is invalid: {e}"),
    });

#[derive(Debug, thiserror::Error)]
#[error("catalog: {0}")]
pub struct CatalogError(pub String);

impl Catalog {
    /// The catalog compiled into the binary.
    #[must_use]
    pub fn builtin() -> &'static Self {
        &BUILTIN
    }

    fn parse(skus_csv: &str, conflicts_csv: &str, prereq_csv: &str) -> Result<Self, CatalogError> {
        let err = |e: &dyn std::fmt::Display| CatalogError(e.to_string());
        let mut skus: Vec<Sku> = Vec::new();
        let mut by_id = HashMap::new();
        let mut by_part = HashMap::new();
        let mut plan_names = HashMap::new();
        let mut rdr = csv::Reader::from_reader(skus_csv.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| err(&e))?;
            let field = |i: usize| rec.get(i).unwrap_or_default();
            let sku_id = SkuId::parse(field(0)).map_err(|e| err(&e))?;
            let plan = ServicePlan {
                id: ServicePlanId::parse(field(3)).map_err(|e| err(&e))?,
                name: field(4).to_owned(),
                display_name: field(5).to_owned(),
            };
            plan_names
                .entry(plan.name.to_ascii_lowercase())
                .or_insert(plan.id);
            let idx = *by_id.entry(sku_id).or_insert_with(|| {
                skus.push(Sku {
                    id: sku_id,
                    part_number: field(1).to_owned(),
                    display_name: field(2).to_owned(),
                    applies_to: AppliesTo::User,
                    plans: Vec::new(),
                    prohibited_usage_locations: Vec::new(),
                });
                skus.len() - 1
            });
            by_part.entry(field(1).to_ascii_lowercase()).or_insert(idx);
            if !skus[idx].has_plan(plan.id) {
                skus[idx].plans.push(plan);
            }
        }
        let mut rules = Rules::default();
        let mut rdr = csv::Reader::from_reader(conflicts_csv.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| err(&e))?;
            let set = rec.get(0).unwrap_or_default();
            let plan = ServicePlanId::parse(rec.get(2).unwrap_or_default()).map_err(|e| err(&e))?;
            rules.add_conflict(set, plan);
        }
        let mut catalog = Self {
            skus,
            by_id,
            by_part,
            plan_names,
            rules,
        };
        let mut rdr = csv::Reader::from_reader(prereq_csv.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| err(&e))?;
            let Some(plan) = catalog.plan_by_name(rec.get(0).unwrap_or_default()) else {
                return Err(CatalogError(format!(
                    "prerequisite for unknown plan {:?}",
                    rec.get(0)
                )));
            };
            // Names the catalog does not know are skipped: the list names alternatives generously.
            let requires_any_of: Vec<_> = rec
                .get(1)
                .unwrap_or_default()
                .split(';')
                .filter_map(|n| catalog.plan_by_name(n))
                .collect();
            if requires_any_of.is_empty() {
                return Err(CatalogError(format!(
                    "prerequisite of {plan} names no known plan"
                )));
            }
            catalog.rules.add_prerequisite(Prerequisite {
                plan,
                requires_any_of,
            });
        }
        Ok(catalog)
    }

    #[must_use]
    pub fn skus(&self) -> &[Sku] {
        &self.skus
    }

    #[must_use]
    pub fn sku(&self, id: SkuId) -> Option<&Sku> {
        self.by_id.get(&id).map(|&i| &self.skus[i])
    }

    /// Looks a SKU up by part number, case-insensitively (the first product wins where two share one).
    #[must_use]
    pub fn sku_by_part_number(&self, part: &str) -> Option<&Sku> {
        self.by_part
            .get(&part.to_ascii_lowercase())
            .map(|&i| &self.skus[i])
    }

    #[must_use]
    pub fn plan_by_name(&self, name: &str) -> Option<ServicePlanId> {
        self.plan_names.get(&name.trim().to_ascii_lowercase()).copied()
    }

    #[must_use]
    pub fn plan_count(&self) -> usize {
        self.skus
            .iter()
            .flat_map(|s| s.plans.iter().map(|p| p.id))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// What a tenant file adds to the built-in catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogExtension {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<SkuDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<PrerequisiteDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictDef>,
}

impl CatalogExtension {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.skus.is_empty() && self.prerequisites.is_empty() && self.conflicts.is_empty()
    }
}

/// A custom SKU (a team licensing its own product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkuDef {
    pub sku_id: SkuId,
    pub sku_part_number: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub applies_to: AppliesTo,
    pub service_plans: Vec<PlanDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prohibited_usage_locations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDef {
    pub service_plan_id: ServicePlanId,
    pub service_plan_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `plan` needs one of `requires_any_of`; plans are named by GUID or by service plan name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrerequisiteDef {
    pub plan: String,
    pub requires_any_of: Vec<String>,
}

/// Plans that exclude each other (any two different ones of the list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConflictDef {
    pub plans: Vec<String>,
}

/// The catalog as one tenant sees it: the built-in one plus the tenant's extension.
#[derive(Debug)]
pub struct TenantCatalog {
    builtin: &'static Catalog,
    custom: Vec<Sku>,
    extra: Rules,
}

impl TenantCatalog {
    /// The built-in catalog alone.
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            builtin: Catalog::builtin(),
            custom: Vec::new(),
            extra: Rules::default(),
        }
    }

    /// Resolves an extension against the built-in catalog; unknown plan names are errors.
    pub fn with_extension(ext: &CatalogExtension) -> Result<Self, CatalogError> {
        let builtin = Catalog::builtin();
        let mut custom = Vec::new();
        for def in &ext.skus {
            if def.service_plans.is_empty() {
                return Err(CatalogError(format!(
                    "custom SKU {} has no service plans",
                    def.sku_part_number
                )));
            }
            custom.push(Sku {
                id: def.sku_id,
                part_number: def.sku_part_number.clone(),
                display_name: def
                    .display_name
                    .clone()
                    .unwrap_or_else(|| def.sku_part_number.clone()),
                applies_to: def.applies_to,
                plans: def
                    .service_plans
                    .iter()
                    .map(|p| ServicePlan {
                        id: p.service_plan_id,
                        name: p.service_plan_name.clone(),
                        display_name: p
                            .display_name
                            .clone()
                            .unwrap_or_else(|| p.service_plan_name.clone()),
                    })
                    .collect(),
                prohibited_usage_locations: def
                    .prohibited_usage_locations
                    .iter()
                    .map(|l| l.to_ascii_uppercase())
                    .collect(),
            });
        }
        let mut me = Self {
            builtin,
            custom,
            extra: Rules::default(),
        };
        for p in &ext.prerequisites {
            let plan = me.resolve_plan(&p.plan)?;
            let requires_any_of = p
                .requires_any_of
                .iter()
                .map(|r| me.resolve_plan(r))
                .collect::<Result<_, _>>()?;
            me.extra.add_prerequisite(Prerequisite {
                plan,
                requires_any_of,
            });
        }
        for (i, c) in ext.conflicts.iter().enumerate() {
            let set = format!("tenant-{i}");
            for name in &c.plans {
                let plan = me.resolve_plan(name)?;
                me.extra.add_conflict(&set, plan);
            }
        }
        Ok(me)
    }

    /// A plan named by GUID or by service plan name (custom plans first).
    pub fn resolve_plan(&self, name: &str) -> Result<ServicePlanId, CatalogError> {
        if let Ok(id) = ServicePlanId::parse(name) {
            return Ok(id);
        }
        let lower = name.trim().to_ascii_lowercase();
        self.custom
            .iter()
            .flat_map(|s| &s.plans)
            .find(|p| p.name.to_ascii_lowercase() == lower)
            .map(|p| p.id)
            .or_else(|| self.builtin.plan_by_name(name))
            .ok_or_else(|| CatalogError(format!("unknown service plan '{name}'")))
    }

    #[must_use]
    pub fn sku(&self, id: SkuId) -> Option<&Sku> {
        self.custom
            .iter()
            .find(|s| s.id == id)
            .or_else(|| self.builtin.sku(id))
    }

    /// A SKU named by GUID or by part number (custom SKUs first).
    #[must_use]
    pub fn resolve_sku(&self, name: &str) -> Option<&Sku> {
        if let Ok(id) = SkuId::parse(name) {
            return self.sku(id);
        }
        self.custom
            .iter()
            .find(|s| s.part_number.eq_ignore_ascii_case(name))
            .or_else(|| self.builtin.sku_by_part_number(name))
    }

    /// The conflict sets `plan` belongs to.
    pub fn conflict_sets(&self, plan: ServicePlanId) -> impl Iterator<Item = &str> {
        let b = self.builtin.rules.conflict_sets.get(&plan).into_iter().flatten();
        let e = self.extra.conflict_sets.get(&plan).into_iter().flatten();
        b.chain(e).map(String::as_str)
    }

    /// The prerequisite rules of `plan`: each inner list is satisfied by any one of its plans.
    pub fn prerequisites(&self, plan: ServicePlanId) -> impl Iterator<Item = &[ServicePlanId]> {
        let b = self.builtin.rules.prerequisites.get(&plan).into_iter().flatten();
        let e = self.extra.prerequisites.get(&plan).into_iter().flatten();
        b.chain(e).map(Vec::as_slice)
    }
}

/// The workload name Graph reports in `assignedPlans[].service`, guessed from the plan's string id
/// (the catalog does not carry it). (inferred): the prefixes follow values seen in real tenants.
#[must_use]
pub fn service_name_for_plan(plan_name: &str) -> &'static str {
    let n = plan_name.to_ascii_uppercase();
    let table: &[(&str, &str)] = &[
        ("EXCHANGE", "exchange"),
        ("SHAREPOINT", "SharePoint"),
        ("ONEDRIVE", "SharePoint"),
        ("MCO", "MicrosoftCommunicationsOnline"),
        ("TEAMS", "TeamspaceAPI"),
        ("INTUNE", "SCO"),
        ("RMS_", "RMSOnline"),
        ("AAD_", "AADPremiumService"),
        ("MFA_", "MultiFactorService"),
        ("OFFICE", "MicrosoftOffice"),
        ("PROJECT", "ProjectWorkManagement"),
        ("SWAY", "Sway"),
        ("YAMMER", "YammerEnterprise"),
        ("BI_", "ProcessSimple"),
        ("POWERAPPS", "PowerAppsService"),
        ("FLOW", "ProcessSimple"),
        ("FORMS", "OfficeForms"),
        ("STREAM", "MicrosoftStream"),
        ("ADALLOM", "Adallom"),
        ("ATP_", "Exchange"),
        ("MINECRAFT", "MinecraftEducationEdition"),
        ("WIN", "WindowsDefenderATP"),
    ];
    table
        .iter()
        .find(|(prefix, _)| n.starts_with(prefix))
        .map_or("MicrosoftOffice", |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_published_counts() {
        let c = Catalog::builtin();
        assert_eq!(c.skus().len(), 620);
        assert_eq!(c.plan_count(), 797);
        assert_eq!(c.skus().iter().map(|s| s.plans.len()).sum::<usize>(), 5997);
    }

    #[test]
    fn well_known_skus_resolve_by_part_number_case_insensitively() {
        let c = Catalog::builtin();
        let e3 = c.sku_by_part_number("enterprisepack").unwrap();
        assert_eq!(e3.id.to_string(), "6fd2c87f-b296-42f0-b197-1e91e994b900");
        assert_eq!(e3.display_name, "Office 365 E3");
        assert!(c.sku_by_part_number("NOPE").is_none());
    }

    #[test]
    fn e1_and_e3_conflict_through_exchange() {
        let t = TenantCatalog::builtin();
        let e1 = t.resolve_sku("STANDARDPACK").unwrap();
        let e3 = t.resolve_sku("ENTERPRISEPACK").unwrap();
        let sets = |s: &Sku| {
            s.plans
                .iter()
                .flat_map(|p| t.conflict_sets(p.id))
                .collect::<BTreeSet<_>>()
        };
        let shared: Vec<_> = sets(e1).intersection(&sets(e3)).copied().collect();
        assert!(shared.contains(&"2"), "{shared:?}");
    }

    #[test]
    fn no_builtin_sku_violates_a_builtin_rule_on_its_own() {
        let t = TenantCatalog::builtin();
        for sku in Catalog::builtin().skus() {
            let plans: BTreeSet<_> = sku.plans.iter().map(|p| p.id).collect();
            for p in &plans {
                for rule in t.prerequisites(*p) {
                    assert!(
                        rule.iter().any(|r| plans.contains(r)) || rule.iter().all(|r| !plans.contains(r)),
                        "{}",
                        sku.part_number
                    );
                }
            }
            let mut seen: HashMap<&str, ServicePlanId> = HashMap::new();
            for p in &plans {
                for set in t.conflict_sets(*p) {
                    if let Some(other) = seen.insert(set, *p) {
                        panic!("{} holds {other} and {p} of set {set}", sku.part_number);
                    }
                }
            }
        }
    }

    #[test]
    fn extension_adds_custom_skus_and_rules_by_name() {
        let plan = ServicePlanId::new();
        let ext = CatalogExtension {
            skus: vec![SkuDef {
                sku_id: SkuId::new(),
                sku_part_number: "ACME_PRO".into(),
                display_name: None,
                applies_to: AppliesTo::User,
                service_plans: vec![PlanDef {
                    service_plan_id: plan,
                    service_plan_name: "ACME_CORE".into(),
                    display_name: None,
                }],
                prohibited_usage_locations: vec!["cu".into()],
            }],
            prerequisites: vec![PrerequisiteDef {
                plan: "ACME_CORE".into(),
                requires_any_of: vec!["TEAMS1".into()],
            }],
            conflicts: vec![ConflictDef {
                plans: vec!["ACME_CORE".into(), "EXCHANGE_S_STANDARD".into()],
            }],
        };
        let t = TenantCatalog::with_extension(&ext).unwrap();
        let sku = t.resolve_sku("acme_pro").unwrap();
        assert_eq!(sku.prohibited_usage_locations, vec!["CU"]);
        assert_eq!(t.prerequisites(plan).count(), 1);
        assert_eq!(t.conflict_sets(plan).count(), 1);
        let bad = CatalogExtension {
            prerequisites: vec![PrerequisiteDef {
                plan: "NO_SUCH_PLAN".into(),
                requires_any_of: vec![],
            }],
            ..CatalogExtension::default()
        };
        assert!(TenantCatalog::with_extension(&bad).is_err());
    }
}
