use std::time::{Duration, Instant};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ast::Direction;

const G: &str = "184efa21-98c3-4e5d-95ab-d07053a96e67";

/// Valid filters and their canonical printing (the printer's parentheses, lower-case
/// keywords, normalised literals).
#[test]
fn valid_filters_parse_to_the_expected_tree() {
    let cases: &[(&str, &str)] = &[
        ("displayName eq 'Ada'", "displayName eq 'Ada'"),
        ("displayName EQ 'it''s'", "displayName eq 'it''s'"),
        ("a ne 1 and b gt 2 or c le -3", "a ne 1 and b gt 2 or c le -3"),
        ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
        ("(a eq 1 or b eq 2) and c eq 3", "(a eq 1 or b eq 2) and c eq 3"),
        ("a eq 1 and (b eq 2 and c eq 3)", "a eq 1 and (b eq 2 and c eq 3)"),
        ("((a eq 1))", "a eq 1"),
        ("not a eq 1", "not a eq 1"),
        ("NOT(a eq 1) and b eq 2", "not a eq 1 and b eq 2"),
        ("not (a eq 1 and b eq 2)", "not (a eq 1 and b eq 2)"),
        ("not not a eq true", "not not a eq true"),
        ("usageLocation eq null", "usageLocation eq null"),
        ("accountEnabled eq false", "accountEnabled eq false"),
        (&format!("skuId eq {G}"), &format!("skuId eq {G}")),
        (
            "skuId eq 184EFA21-98C3-4E5D-95AB-D07053A96E67",
            &format!("skuId eq {G}"),
        ),
        (
            &format!("assignedLicenses/any(x:x/skuId eq {G})"),
            &format!("assignedLicenses/any(x:x/skuId eq {G})"),
        ),
        (
            &format!("assignedLicenses/any( s : s/skuId eq {G} )"),
            &format!("assignedLicenses/any(s:s/skuId eq {G})"),
        ),
        (
            &format!("services/any(c:c/planId in ({G}, {G}))"),
            &format!("services/any(c:c/planId in ({G}, {G}))"),
        ),
        ("assignedLicenses/any()", "assignedLicenses/any()"),
        ("assignedLicenses/$count eq 0", "assignedLicenses/$count eq 0"),
        ("assignedLicenses/$COUNT ne 0", "assignedLicenses/$count ne 0"),
        (
            "not assignedLicenses/any(x:x/skuId eq 1)",
            "not assignedLicenses/any(x:x/skuId eq 1)",
        ),
        ("a/all(x:x/b/any(y:y/c eq 1))", "a/all(x:x/b/any(y:y/c eq 1))"),
        ("startsWith(displayName,'Ad')", "startswith(displayName,'Ad')"),
        ("endswith(mail, '@contoso.com')", "endswith(mail,'@contoso.com')"),
        (
            "contains(displayName,'x') eq true",
            "contains(displayName,'x') eq true",
        ),
        ("id in ('a', 'b')", "id in ('a', 'b')"),
        ("n eq 1.5", "n eq 1.5"),
        ("n eq 1e3", "n eq 1000.0"),
        ("n eq -2.5E-3", "n eq -0.0025"),
        ("d ge 2024-01-31", "d ge 2024-01-31"),
        ("t ge 2024-01-31T10:20:30Z", "t ge 2024-01-31T10:20:30Z"),
        ("t ge 2024-01-31T10:20Z", "t ge 2024-01-31T10:20:00Z"),
        (
            "t lt 2024-01-31T12:00:00.5+02:00",
            "t lt 2024-01-31T10:00:00.500Z",
        ),
        ("1 eq a", "1 eq a"),
        ("manager/displayName eq 'x'", "manager/displayName eq 'x'"),
        ("(a eq b) eq true", "(a eq b) eq true"),
    ];
    for (input, want) in cases {
        let got = parse_filter(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(got.to_string(), *want, "input: {input}");
    }
}

#[test]
fn lambda_variables_root_paths_and_other_names_do_not() {
    let e = parse_filter("a/any(x:x/b eq 1 and c eq 2)").unwrap();
    let Expr::Lambda(l) = e else { panic!("{e:?}") };
    let Some(body) = l.body else { panic!() };
    let Expr::And(left, right) = *body else { panic!() };
    let Expr::Compare(lp, _, _) = *left else { panic!() };
    assert_eq!(
        *lp,
        Expr::Path(Path {
            var: Some("x".into()),
            segments: vec!["b".into()]
        })
    );
    let Expr::Compare(rp, _, _) = *right else { panic!() };
    assert_eq!(*rp, Expr::Path(Path::property("c")));
}

#[test]
fn literals_have_their_types() {
    let lit = |s: &str| match parse_filter(&format!("p eq {s}")).unwrap() {
        Expr::Compare(_, _, r) => match *r {
            Expr::Literal(l) => l,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(lit("null"), Literal::Null);
    assert_eq!(lit("TRUE"), Literal::Bool(true));
    assert_eq!(lit("-42"), Literal::Int(-42));
    assert_eq!(lit("9223372036854775807"), Literal::Int(i64::MAX));
    assert_eq!(lit("0.25"), Literal::Decimal(0.25));
    assert_eq!(lit("'a''b'"), Literal::String("a'b".into()));
    assert_eq!(lit("''"), Literal::String(String::new()));
    assert_eq!(lit(G), Literal::Guid(Uuid::parse_str(G).unwrap()));
    assert_eq!(
        lit("2024-02-29"),
        Literal::Date(chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
    );
    // A GUID made of digits only is still a GUID, not a number or a date.
    assert_eq!(
        lit("12345678-1234-1234-1234-123456789012"),
        Literal::Guid(Uuid::parse_str("12345678-1234-1234-1234-123456789012").unwrap())
    );
}

/// Invalid filters: the byte position of the problem and a word of the message.
#[test]
fn invalid_filters_report_where_they_fail() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("displayName eq", 14, "expected a property, a literal"),
        ("displayName eq 'Ada", 15, "unterminated string"),
        ("displayName eq 'Ada' and", 24, "expected a property"),
        ("displayName = 'Ada'", 12, "'=' is not valid"),
        ("a eq 1 b eq 2", 7, "found 'b', expected 'and', 'or'"),
        ("a eq b eq c", 7, "found 'eq'"),
        ("(a eq 1", 7, "expected ')'"),
        ("a eq 1)", 6, "found ')'"),
        ("foo(a,'b')", 0, "unknown function 'foo'"),
        ("startswith(a 'b')", 13, "expected ',' or ')'"),
        ("a/any(x x/b eq 1)", 8, "expected ':'"),
        ("a/any(eq:eq eq 1)", 6, "lambda variable"),
        ("a/all()", 6, "lambda variable"),
        ("a/ 'x' eq 1", 3, "after '/'"),
        ("a in ()", 6, "expected a literal"),
        ("a in (1, b)", 9, "expected a literal"),
        ("a in 1", 5, "expected '(' after 'in'"),
        ("a eq 12abc", 5, "invalid literal '12abc'"),
        ("a eq 1.", 5, "invalid literal"),
        ("a eq 1e", 5, "invalid literal"),
        ("a eq 99999999999999999999", 5, "invalid literal"),
        ("a eq 2024-02-30", 5, "invalid literal"),
        ("a eq 2024-01-01T25:00:00Z", 5, "invalid literal"),
        ("a eq 2024-01-01T10:00:00", 5, "invalid literal"),
        ("a eq 184efa21-98c3-4e5d-95ab-d07053a96e6", 5, "invalid literal"),
        ("a eq $top", 5, "'$' is not valid"),
        ("a eq 1 and", 10, "expected a property"),
        ("and eq 1", 0, "found 'and'"),
        ("a eq 'é' and é", 14, "'é' is not valid"),
    ];
    for (input, pos, needle) in cases {
        let err = parse_filter(input).expect_err(input);
        assert_eq!(err.option, QueryOption::Filter);
        let msg = err.to_string();
        assert_eq!(err.pos, *pos, "input {input:?}: {msg}");
        assert!(msg.contains(needle), "input {input:?}: {msg} lacks {needle:?}");
    }
}

fn assert_fast(what: &str, input: &str, want: fn(&ParseErrorKind) -> bool) {
    let started = Instant::now();
    let err = parse_filter(input).expect_err(what);
    let took = started.elapsed();
    assert!(want(&err.kind), "{what}: {err}");
    assert!(took < Duration::from_millis(10), "{what} took {took:?}");
}

/// The stack the hostile inputs run on: half the 2 MiB a Tokio worker thread has. An
/// unoptimised build needs about 12 KiB per nesting level (three frames), so the depth limit
/// of 32 fits in 400 KiB; without the limit, 10,000 parentheses would need 120 MiB.
const STACK: usize = 1024 * 1024;

#[test]
fn hostile_inputs_are_refused_quickly_without_recursion_blowup() {
    // Run on a small stack: a parser recursing per parenthesis would overflow it.
    let child = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            let parens = format!("{}a eq 1{}", "(".repeat(10_000), ")".repeat(10_000));
            assert_fast("10,000 parentheses", &parens[..4000], |k| {
                matches!(k, ParseErrorKind::TooDeep { max: 32 })
            });
            assert_fast("20,000-byte parentheses", &parens, |k| {
                matches!(k, ParseErrorKind::TooLong { .. })
            });
            let nots = "not ".repeat(1000) + "a eq 1";
            assert_fast("1,000 nots", &nots, |k| {
                matches!(k, ParseErrorKind::TooDeep { .. })
            });
            let lambdas = "a/any(x:".repeat(400) + "x eq 1" + &")".repeat(400);
            assert_fast("400 nested lambdas", &lambdas, |k| {
                matches!(k, ParseErrorKind::TooDeep { .. })
            });
            let calls = "startswith(".repeat(300);
            assert_fast("300 nested calls", &calls, |k| {
                matches!(k, ParseErrorKind::TooDeep { .. })
            });
            let mb = format!("displayName eq '{}'", "x".repeat(1 << 20));
            assert_fast("1 MB filter", &mb, |k| {
                matches!(k, ParseErrorKind::TooLong { max: 4096 })
            });
            let list: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
            let in_list = format!("a in ({})", list.join(","));
            assert_fast("in list of 10,000", &in_list, |k| {
                matches!(k, ParseErrorKind::TooLong { .. })
            });
            let in16 = format!("a in ({})", list[..16].join(","));
            assert_fast("in list of 16", &in16, |k| {
                matches!(k, ParseErrorKind::InListTooLong { max: 15 })
            });
            let ors: Vec<String> = (0..300).map(|i| format!("a eq {i}")).collect();
            assert_fast("300 ors", &ors.join(" or "), |k| {
                matches!(k, ParseErrorKind::TooManyNodes { max: 500 })
            });
        })
        .unwrap();
    child.join().unwrap();
}

#[test]
fn limits_are_adjustable() {
    let list: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let text = format!("a in ({})", list.join(","));
    let limits = Limits {
        max_len: 1 << 16,
        max_nodes: 5000,
        max_in_list: 1000,
        ..Limits::default()
    };
    let Expr::In(_, l) = parse_filter_with(&text, limits).unwrap() else {
        panic!()
    };
    assert_eq!(l.len(), 1000);
    let longer = format!("{},1)", &text[..text.len() - 1]);
    let err = parse_filter_with(&longer, limits).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::InListTooLong { max: 1000 });
    assert_eq!(err.pos, longer.len() - 2);
}

#[test]
fn orderby_items_and_errors() {
    let items = crate::options::parse_orderby("displayName desc, userPrincipalName ,a/b asc").unwrap();
    let shown: Vec<String> = items.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["displayName desc", "userPrincipalName", "a/b"]);
    assert_eq!(items[0].direction, Direction::Desc);
    let err = crate::options::parse_orderby("displayName sideways").unwrap_err();
    assert_eq!((err.option, err.pos), (QueryOption::OrderBy, 12));
    let err = crate::options::parse_orderby("displayName,").unwrap_err();
    assert_eq!(err.pos, 12);
}

// ---- property test: print then parse gives the same tree --------------------------------

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("displayName".to_owned()),
        Just("skuId".to_owned()),
        Just("assignedLicenses".to_owned()),
        Just("a_b2".to_owned()),
        "[A-Z][a-zA-Z0-9_]{0,8}".prop_filter("not a keyword", |s| {
            !RESERVED.iter().any(|k| s.eq_ignore_ascii_case(k)) && Func::from_name(s).is_none()
        }),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Literal::Decimal),
        // Any text but NUL, which no option may hold (`ParseErrorKind::Nul`).
        "[^\\x00\\n]{0,12}".prop_map(Literal::String),
        any::<u128>().prop_map(|u| Literal::Guid(Uuid::from_u128(u))),
        (0i32..3_000_000)
            .prop_map(|d| Literal::Date(chrono::NaiveDate::from_num_days_from_ce_opt(d.max(1)).unwrap())),
        (0i64..32_503_680_000, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Literal::DateTime(chrono::DateTime::from_timestamp(s, n).unwrap())),
    ]
}

fn path(vars: Vec<String>) -> impl Strategy<Value = Path> {
    let rooted = !vars.is_empty();
    (
        proptest::collection::vec(ident(), 1..3),
        proptest::sample::select(if rooted { vars } else { vec![String::new()] }),
        any::<bool>(),
    )
        .prop_map(move |(segments, var, use_var)| {
            if rooted && use_var {
                Path {
                    var: Some(var),
                    segments,
                }
            } else {
                Path { var: None, segments }
            }
        })
}

fn operand(vars: Vec<String>) -> impl Strategy<Value = Expr> {
    prop_oneof![
        literal().prop_map(Expr::Literal),
        path(vars.clone()).prop_map(Expr::Path),
        path(vec![]).prop_map(Expr::Count),
        (
            prop_oneof![Just(Func::StartsWith), Just(Func::EndsWith), Just(Func::Contains)],
            path(vars),
            "[^\\x00\\n]{0,6}"
        )
            .prop_map(|(f, p, s)| Expr::Call(f, vec![Expr::Path(p), Expr::Literal(Literal::String(s))])),
    ]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
    ]
}

fn expr(vars: Vec<String>, depth: u32) -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        (operand(vars.clone()), cmp_op(), operand(vars.clone())).prop_map(|(l, o, r)| Expr::Compare(
            Box::new(l),
            o,
            Box::new(r)
        )),
        (path(vars.clone()), proptest::collection::vec(literal(), 1..4))
            .prop_map(|(p, l)| Expr::In(Box::new(Expr::Path(p)), l)),
        operand(vars.clone()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let sub = expr(vars.clone(), depth - 1);
    const VAR_NAMES: &[&str] = &["x", "a", "c"];
    let lambda_var = proptest::sample::select(VAR_NAMES);
    let vars2 = vars.clone();
    prop_oneof![
        2 => leaf,
        1 => (sub.clone(), sub.clone()).prop_map(|(l, r)| Expr::And(Box::new(l), Box::new(r))),
        1 => (sub.clone(), sub.clone()).prop_map(|(l, r)| Expr::Or(Box::new(l), Box::new(r))),
        1 => sub.clone().prop_map(|e| Expr::Not(Box::new(e))),
        1 => (sub.clone(), cmp_op(), sub).prop_map(|(l, o, r)| Expr::Compare(Box::new(l), o, Box::new(r))),
        1 => (path(vec![]), lambda_var, any::<bool>(), any::<bool>())
            .prop_flat_map(move |(p, v, all, empty)| {
                let mut inner = vars2.clone();
                inner.push(v.to_owned());
                let kind = if all { crate::ast::LambdaKind::All } else { crate::ast::LambdaKind::Any };
                (Just(p), Just(v.to_owned()), Just(kind), Just(empty && !all), expr(inner, depth - 1))
            })
            .prop_map(|(p, v, kind, empty, body)| Expr::Lambda(crate::ast::Lambda {
                path: p,
                kind,
                var: (!empty).then_some(v),
                body: (!empty).then(|| Box::new(body)),
            })),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in expr(vec![], 4)) {
        let text = e.to_string();
        let limits = Limits { max_len: 1 << 20, max_nodes: 1 << 20, ..Limits::default() };
        let back = parse_filter_with(&text, limits);
        prop_assert_eq!(back.as_ref(), Ok(&e), "text: {}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        let _ = parse_filter(&s);
    }
}

#[test]
fn nul_is_refused_at_its_position_in_every_option() {
    let e = parse_filter("displayName eq 'a\0b'").unwrap_err();
    assert_eq!((e.pos, e.kind.clone()), (17, ParseErrorKind::Nul));
    assert_eq!(
        crate::options::parse_search("\"displayName:a\0\"")
            .unwrap_err()
            .kind,
        ParseErrorKind::Nul
    );
    assert_eq!(
        crate::options::parse_select("id,\0").unwrap_err().kind,
        ParseErrorKind::Nul
    );
}
