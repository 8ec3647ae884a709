use super::*;
use crate::error::Surface;
use crate::parse_filter;
use crate::schema::{GROUPS, LICENSE_DETAILS, SUBSCRIBED_SKUS, USERS};

const G: &str = "184efa21-98c3-4e5d-95ab-d07053a96e67";

fn check(schema: &EntitySchema, f: &str, advanced: bool) -> Result<Usage, QueryError> {
    validate_filter(&parse_filter(f).unwrap(), schema, advanced).map(|(_, u)| u)
}

/// (filter, accepted without advanced mode, accepted with it)
#[test]
fn the_support_table_of_spec_4_6() {
    let cases: &[(&str, bool, bool)] = &[
        (&format!("assignedLicenses/any(x:x/skuId eq {G})"), true, true),
        (&format!("assignedLicenses/any(x:x/skuId in ({G}))"), true, true),
        (
            &format!("not assignedLicenses/any(x:x/skuId eq {G})"),
            false,
            true,
        ),
        (
            &format!("NOT(assignedLicenses/any(x:x/skuId eq {G}))"),
            false,
            true,
        ),
        ("assignedLicenses/$count eq 0", false, true),
        ("assignedLicenses/$count ne 0", false, true),
        (&format!("licenseDetails/any(l:l/skuId eq {G})"), true, true),
        ("usageLocation eq 'US'", true, true),
        ("startswith(usageLocation,'U')", true, true),
        ("usageLocation eq null", false, true),
        ("usageLocation ne 'US'", false, true),
        ("displayName eq 'a'", true, true),
        ("startswith(displayName,'a')", true, true),
        ("endswith(displayName,'a')", false, true),
        ("displayName ne 'a'", false, true),
        ("not (displayName eq 'a')", false, true),
        ("accountEnabled eq true", true, true),
        ("accountEnabled ne true", false, true),
        ("createdDateTime ge 2024-01-01", false, true),
        ("isLicenseReconciliationNeeded eq false", true, true),
        (&format!("id in ('{G}', {G})"), true, true),
    ];
    for (f, plain, advanced) in cases {
        assert_eq!(
            check(&USERS, f, false).is_ok(),
            *plain,
            "{f} without advanced mode"
        );
        assert_eq!(check(&USERS, f, true).is_ok(), *advanced, "{f} in advanced mode");
    }
    assert!(check(&USERS, "endswith(displayName,'a')", true).unwrap().advanced);
    assert!(!check(&USERS, "displayName eq 'a'", true).unwrap().advanced);

    let groups: &[(&str, bool, bool)] = &[
        (&format!("assignedLicenses/any(a:a/skuId eq {G})"), true, true),
        ("assignedLicenses/$count eq 0", false, true),
        ("hasMembersWithLicenseErrors eq true", true, true),
        ("hasMembersWithLicenseErrors eq null", true, true),
        ("hasMembersWithLicenseErrors ne true", false, false),
        (
            "securityEnabled eq true and startswith(displayName,'L')",
            true,
            true,
        ),
    ];
    for (f, plain, advanced) in groups {
        assert_eq!(
            check(&GROUPS, f, false).is_ok(),
            *plain,
            "{f} without advanced mode"
        );
        assert_eq!(check(&GROUPS, f, true).is_ok(), *advanced, "{f} in advanced mode");
    }
}

fn graph(
    schema: &EntitySchema,
    f: &str,
    advanced: bool,
    surface: Surface,
) -> (u16, &'static str, Option<&'static str>, String) {
    let e = match parse_filter(f) {
        Ok(e) => validate_filter(&e, schema, advanced).expect_err(f),
        Err(p) => QueryError::Parse(p),
    };
    let g = e.graph(surface);
    (g.status, g.code, g.inner_code, g.message)
}

#[test]
fn errors_map_to_graph_codes_and_messages() {
    let d = Surface::Directory;
    assert_eq!(
        graph(&USERS, "endswith(mail,'@x.com')", false, d),
        (
            400,
            "Request_UnsupportedQuery",
            None,
            "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding \
             $count=true query parameter and ConsistencyLevel:eventual header. Refer to \
             https://aka.ms/graph-docs/advanced-queries for more information"
                .to_owned()
        )
    );
    assert_eq!(
        graph(&USERS, "jobTitle gt 'a'", true, d),
        (
            400,
            "Request_UnsupportedQuery",
            None,
            "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'.".to_owned()
        )
    );
    assert_eq!(
        graph(&USERS, "assignedLicenses/$count eq 1", true, d).3,
        "Unsupported or invalid query filter clause specified for property 'assignedLicenses' of resource 'User'."
    );
    assert_eq!(
        graph(&USERS, "shoeSize eq 3", false, d),
        (
            400,
            "Request_BadRequest",
            None,
            "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.".to_owned()
        )
    );
    assert_eq!(
        graph(&USERS, "assignedLicenses/any(x:x/sku eq 1)", false, d).3,
        "Could not find a property named 'sku' on type 'microsoft.graph.assignedLicense'."
    );
    assert_eq!(
        graph(&USERS, "assignedLicenses/any(x:x/skuId eq 'nope')", false, d),
        (
            400,
            "Request_UnsupportedQuery",
            None,
            "Invalid object identifier 'nope'.".to_owned()
        )
    );
    assert_eq!(
        graph(&USERS, "accountEnabled eq 'yes'", false, d).3,
        "A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'Equal'."
    );
    assert_eq!(
        graph(&USERS, "displayName eq", false, d),
        (
            400,
            "Request_BadRequest",
            None,
            "Invalid filter clause: Syntax error in $filter at position 14: found the end of the expression, expected a property, a literal, a function or '('.".to_owned()
        )
    );
    assert_eq!(
        graph(&USERS, "displayName", false, d).3,
        "Unsupported query: the expression 'displayName' is not supported in $filter."
    );
    assert_eq!(
        graph(&SUBSCRIBED_SKUS, "skuId eq 1", false, d),
        (
            400,
            "Request_UnsupportedQuery",
            None,
            "The query option '$filter' is not supported on this resource.".to_owned()
        )
    );
    assert!(check(&LICENSE_DETAILS, "skuId eq 1", true).is_err());
    // The beta cloudLicensing surface: camelCase code, inner code, fixed message.
    let c = Surface::CloudLicensing;
    assert_eq!(
        graph(&USERS, "displayName eq", false, c),
        (
            400,
            "badRequest",
            Some("invalidFilter"),
            "Cannot process the request because it is malformed or incorrect.".to_owned()
        )
    );
    assert_eq!(graph(&USERS, "shoeSize eq 3", false, c).2, Some("invalidFilter"));
}

#[test]
fn license_filters_are_recognised_for_index_paths() {
    use crate::schema::{GROUP_ASSIGNED_LICENSES, USER_ASSIGNED_LICENSES};
    let cond = |f: &str| {
        validate_filter(&parse_filter(f).unwrap(), &USERS, true)
            .unwrap()
            .0
    };
    let g = Uuid::parse_str(G).unwrap();
    let c = cond(&format!("assignedLicenses/any(x:x/skuId eq {G})"));
    assert_eq!(c.any_guid_in(&USER_ASSIGNED_LICENSES), Some(vec![g]));
    assert_eq!(c.any_guid_in(&GROUP_ASSIGNED_LICENSES), None);
    let c = cond(&format!("assignedLicenses/any(x:x/skuId in ({G}, {G}))"));
    assert_eq!(c.any_guid_in(&USER_ASSIGNED_LICENSES), Some(vec![g, g]));
    for other in [
        format!("not assignedLicenses/any(x:x/skuId eq {G})"),
        format!("assignedLicenses/any(x:x/skuId ne {G})"),
        format!("assignedLicenses/any(x:x/skuId eq {G}) and displayName eq 'a'"),
        "assignedLicenses/any()".to_owned(),
    ] {
        assert_eq!(cond(&other).any_guid_in(&USER_ASSIGNED_LICENSES), None, "{other}");
    }
}

#[test]
fn lambda_scopes_are_checked() {
    // The variable outside its lambda is not a property.
    assert!(matches!(
        check(
            &USERS,
            &format!("assignedLicenses/any(x:x/skuId eq {G}) and x/skuId eq {G}"),
            true
        ),
        Err(QueryError::UnknownProperty { .. })
    ));
    // A scalar is not a collection, a collection is not a scalar.
    assert!(matches!(
        check(&USERS, "displayName/any(x:x eq 'a')", true),
        Err(QueryError::UnsupportedFilter { .. })
    ));
    assert!(matches!(
        check(&USERS, "assignedLicenses eq 'a'", true),
        Err(QueryError::UnsupportedFilter { .. })
    ));
    assert!(matches!(
        check(&USERS, "assignedLicenses/any(x:x/disabledPlans eq 'a')", true),
        Err(QueryError::UnsupportedFilter { .. })
    ));
    assert!(matches!(
        check(&USERS, "assignedLicenses/all(x:x/skuId eq 'a')", true),
        Err(QueryError::UnsupportedFilter { .. })
    ));
}

#[test]
fn select_resolves_case_insensitively_and_refuses_unknown_and_filter_only() {
    let names = |s: &str| crate::options::parse_select(s).unwrap();
    assert_eq!(
        validate_select(&names("ID, displayname,id,assignedLicenses"), &USERS).unwrap(),
        ["id", "displayName", "assignedLicenses"]
    );
    assert_eq!(
        validate_select(&names("hasMembersWithLicenseErrors"), &GROUPS)
            .unwrap_err()
            .graph(Surface::Directory)
            .message,
        "Could not find a property named 'hasMembersWithLicenseErrors' on type 'microsoft.graph.group'."
    );
    assert_eq!(
        validate_select(&names("skuId,servicePlans"), &LICENSE_DETAILS).unwrap(),
        ["skuId", "servicePlans"]
    );
}

#[test]
fn orderby_rules() {
    let ob = |s: &str| crate::options::parse_orderby(s).unwrap();
    assert!(validate_orderby(&ob("displayName"), &USERS, false, false).is_ok());
    assert!(validate_orderby(&ob("userPrincipalName desc"), &USERS, false, false).is_ok());
    assert_eq!(
        validate_orderby(&ob("displayName"), &USERS, false, true),
        Err(QueryError::SortingNotSupported)
    );
    assert!(validate_orderby(&ob("displayName"), &USERS, true, true).is_ok());
    assert_eq!(
        validate_orderby(&ob("createdDateTime"), &USERS, false, false),
        Err(QueryError::SortingNotSupported)
    );
    assert!(validate_orderby(&ob("createdDateTime"), &USERS, true, false).is_ok());
    assert_eq!(
        validate_orderby(&ob("jobTitle"), &USERS, true, false),
        Err(QueryError::SortingNotSupported)
    );
    assert!(matches!(
        validate_orderby(&ob("nope"), &USERS, true, false),
        Err(QueryError::UnknownProperty { .. })
    ));
}

#[test]
fn search_needs_searchable_properties() {
    let s = crate::options::parse_search("\"displayName:a\" OR \"usageLocation:US\"").unwrap();
    assert!(matches!(
        validate_search(&s, &USERS),
        Err(QueryError::Unsupported(_))
    ));
    let s = crate::options::parse_search("\"nope:a\"").unwrap();
    assert!(matches!(
        validate_search(&s, &USERS),
        Err(QueryError::UnknownProperty { .. })
    ));
}
