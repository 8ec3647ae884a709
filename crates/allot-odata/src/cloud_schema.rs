//! The beta `cloudLicensing` entities (spec §2.11–2.15): allotments, assignments, assignment
//! errors, usage rights and waiting members, with the `$filter`, `$orderby` and `$select` the
//! beta pages document (spec §1.3 C1–C22, §4.6).
//!
//! None of them is a table: each is a view the store computes in SQL from the one licensing state
//! (`allot_store::cloud_views`), named by a common table expression with normalised columns, and
//! the columns below are written against those names:
//!
//! | entity | CTE, alias | columns |
//! |---|---|---|
//! | allotment | `cl_allotments a` | `id` (subscription), `sku_id`, `part_number`, `allotted`, `consumed`, `created_at` |
//! | assignment | `cl_assignments x` | `kind` (`g`/`u`), `principal_id`, `sku_id`, `disabled`, `allotment_id` |
//! | assignmentError | `cl_errors e` | `principal_id` (user), `sku_id`, `group_id`, `code`, `at` |
//! | usageRight | `cl_rights r` | `principal_id`, `sku_id`, `part_number` |
//! | waitingMember | `cl_waiting w` | `principal_id` (user), `allotment_id`, `sku_id`, `since`, `seq` |
//!
//! Two more CTEs carry the tenant's catalog into SQL: `cl_skus (sku_id, part_number)` and
//! `cl_plans (sku_id, plan_id)`; `cl_sources (principal_id, sku_id, disabled)` are the
//! assignments behind a usage right. `services/any(c:c/planId …)` is a subquery over `cl_plans`
//! (for a usage right, only the plans one of its sources leaves enabled).

use crate::schema::{Case, Collection, EntitySchema, FilterOps, Op, Property, Sql, Support, Type};

const D: Support = Support::Default;

/// `eq` and `in` (spec §4.6): what the beta pages filter with.
const EQ_IN: FilterOps = FilterOps::NONE.with(D, &[Op::Eq, Op::In]);

/// `skuId`: `eq` and `in` (spec §4.6), sortable.
const fn sku_id(col: &'static str) -> Property {
    Property::filterable("skuId", Type::Guid, EQ_IN, Sql::same(col), Case::Exact).sortable(D)
}

/// A sortable property that `$filter` does not take.
const fn sortable(name: &'static str, ty: Type, col: &'static str, case: Case) -> Property {
    Property::filterable(name, ty, FilterOps::NONE, Sql::same(col), case).sortable(D)
}

const SERVICE_FILTER: FilterOps = FilterOps::NONE.with(D, &[Op::Any]);

const SERVICE_ELEMENT: [Property; 3] = [
    Property::filterable("planId", Type::Guid, EQ_IN, Sql::same("sp.plan_id"), Case::Exact),
    Property::plain("planName", Type::String),
    Property::plain("assignableTo", Type::String),
];

/// `allotment.services`: every plan of the allotment's SKU.
pub static ALLOTMENT_SERVICES: Collection = Collection {
    type_name: "microsoft.graph.cloudLicensing.service",
    from: Sql::same("cl_plans sp WHERE sp.sku_id = a.sku_id"),
    element: &SERVICE_ELEMENT,
};

/// `usageRight.services`: the plans of the SKU that at least one source leaves enabled.
pub static USAGE_RIGHT_SERVICES: Collection = Collection {
    type_name: "microsoft.graph.cloudLicensing.service",
    from: Sql {
        sqlite: "cl_plans sp WHERE sp.sku_id = r.sku_id AND EXISTS (SELECT 1 FROM cl_sources s \
                 WHERE s.principal_id = r.principal_id AND s.sku_id = r.sku_id AND NOT EXISTS \
                 (SELECT 1 FROM json_each(s.disabled) d WHERE d.value = sp.plan_id))",
        postgres: "cl_plans sp WHERE sp.sku_id = r.sku_id AND EXISTS (SELECT 1 FROM cl_sources s \
                   WHERE s.principal_id = r.principal_id AND s.sku_id = r.sku_id AND NOT EXISTS \
                   (SELECT 1 FROM jsonb_array_elements_text(CAST(s.disabled AS jsonb)) d(v) \
                   WHERE CAST(d.v AS uuid) = sp.plan_id))",
    },
    element: &SERVICE_ELEMENT,
};

pub static ALLOTMENT_PROPERTIES: [Property; 8] = [
    Property::plain("id", Type::String),
    sortable("allottedUnits", Type::Int, "a.allotted", Case::Exact),
    Property::plain("assignableTo", Type::String),
    sortable("consumedUnits", Type::Int, "a.consumed", Case::Exact),
    Property::filterable(
        "services",
        Type::Collection(&ALLOTMENT_SERVICES),
        SERVICE_FILTER,
        Sql::same(""),
        Case::Exact,
    ),
    sku_id("a.sku_id"),
    sortable("skuPartNumber", Type::String, "a.part_number", Case::Insensitive),
    Property::plain("subscriptions", Type::Opaque),
];

/// `microsoft.graph.cloudLicensing.allotment` (C1, and nested in `$expand=allotment(...)`).
pub static ALLOTMENTS: EntitySchema = EntitySchema::new(
    "allotment",
    "microsoft.graph.cloudLicensing.allotment",
    "Allotment",
    "a",
    &ALLOTMENT_PROPERTIES,
    true,
    &["assignments", "waitingMembers"],
);

/// The allotment of an assignment, for a nested `$expand=allotment($filter=…)`: the condition
/// holds when the row's allotment passes.
pub static ALLOTMENT_OF_ASSIGNMENT: Collection = Collection {
    type_name: "microsoft.graph.cloudLicensing.allotment",
    from: Sql::same("cl_allotments a WHERE a.id = x.allotment_id"),
    element: &ALLOTMENT_PROPERTIES,
};

/// The allotment of a waiting member, as [`ALLOTMENT_OF_ASSIGNMENT`].
pub static ALLOTMENT_OF_WAITING_MEMBER: Collection = Collection {
    type_name: "microsoft.graph.cloudLicensing.allotment",
    from: Sql::same("cl_allotments a WHERE a.id = w.allotment_id"),
    element: &ALLOTMENT_PROPERTIES,
};

pub static ASSIGNMENT_PROPERTIES: [Property; 2] = [
    Property::plain("id", Type::String),
    Property::plain("disabledServicePlanIds", Type::Opaque),
];

/// `microsoft.graph.cloudLicensing.assignment` (C3, C4, C19): no property of its own is
/// filterable or sortable; its allotment is, through `$expand=allotment($filter=…)`.
pub static ASSIGNMENTS: EntitySchema = EntitySchema::new(
    "assignment",
    "microsoft.graph.cloudLicensing.assignment",
    "Assignment",
    "x",
    &ASSIGNMENT_PROPERTIES,
    true,
    &["assignedTo", "allotment"],
);

pub static ASSIGNMENT_ERROR_PROPERTIES: [Property; 5] = [
    Property::plain("id", Type::String),
    Property::filterable("code", Type::String, EQ_IN, Sql::same("e.code"), Case::Exact).sortable(D),
    Property::plain("message", Type::String),
    sortable("occurrenceDateTime", Type::DateTime, "e.at", Case::Exact),
    sku_id("e.sku_id"),
];

/// `microsoft.graph.cloudLicensing.assignmentError` (C14).
pub static ASSIGNMENT_ERRORS: EntitySchema = EntitySchema::new(
    "assignmentError",
    "microsoft.graph.cloudLicensing.assignmentError",
    "AssignmentError",
    "e",
    &ASSIGNMENT_ERROR_PROPERTIES,
    true,
    &["assignedTo", "usageRight"],
);

pub static USAGE_RIGHT_PROPERTIES: [Property; 4] = [
    Property::plain("id", Type::String),
    Property::filterable(
        "services",
        Type::Collection(&USAGE_RIGHT_SERVICES),
        SERVICE_FILTER,
        Sql::same(""),
        Case::Exact,
    ),
    sku_id("r.sku_id"),
    sortable("skuPartNumber", Type::String, "r.part_number", Case::Insensitive),
];

/// `microsoft.graph.cloudLicensing.usageRight` (C16, C17).
pub static USAGE_RIGHTS: EntitySchema = EntitySchema::new(
    "usageRight",
    "microsoft.graph.cloudLicensing.usageRight",
    "UsageRight",
    "r",
    &USAGE_RIGHT_PROPERTIES,
    true,
    &["assignments", "allotments"],
);

pub static WAITING_MEMBER_PROPERTIES: [Property; 2] = [
    Property::plain("id", Type::String),
    sortable("waitingSinceDateTime", Type::DateTime, "w.since", Case::Exact),
];

/// `microsoft.graph.cloudLicensing.waitingMember` (C20, C21): no `$filter` on the beta pages.
pub static WAITING_MEMBERS: EntitySchema = EntitySchema::new(
    "waitingMember",
    "microsoft.graph.cloudLicensing.waitingMember",
    "WaitingMember",
    "w",
    &WAITING_MEMBER_PROPERTIES,
    false,
    &["assignedTo", "allotment"],
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Dialect;
    use crate::sql::to_sql;
    use crate::validate::validate_filter;

    const P: &str = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";

    #[test]
    fn the_documented_filters_become_sql_over_the_views() {
        let e = crate::parse_filter(&format!(
            "skuId in ({P}, '{P}') and services/any(c:c/planId eq {P})"
        ))
        .unwrap();
        let (c, _) = validate_filter(&e, &USAGE_RIGHTS, false).unwrap();
        let f = to_sql(&c, Dialect::Sqlite, 5);
        assert!(
            f.sql
                .starts_with("(r.sku_id IN ($5, $6) AND EXISTS (SELECT 1 FROM cl_plans sp"),
            "{}",
            f.sql
        );
        assert_eq!(f.params.len(), 3);
        // Waiting members take no $filter; an assignment has no filterable property.
        let e = crate::parse_filter(&format!("skuId eq {P}")).unwrap();
        assert!(validate_filter(&e, &WAITING_MEMBERS, false).is_err());
        assert!(validate_filter(&e, &ASSIGNMENTS, false).is_err());
        assert!(validate_filter(&e, &ALLOTMENTS, false).is_ok());
        let e = crate::parse_filter("code eq 'MissingDependency'").unwrap();
        assert!(validate_filter(&e, &ASSIGNMENT_ERRORS, false).is_ok());
    }
}
