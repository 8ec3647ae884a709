//! The invariants both fuzz drivers check on one input:
//!
//! 1. no parser panics, and every error position lies within the input;
//! 2. a `$filter` that parses prints to text that parses back to the same tree;
//! 3. a filter that validates against any schema (users, groups, the cloudLicensing views) emits SQL whose `$n`
//!    placeholders are exactly the parameters returned, numbered from the first one asked for;
//! 4. `$expand` items print back to text that parses to the same items; `$search` likewise.

use allot_odata::schema::{Dialect, EntitySchema, GROUPS, USERS};
use allot_odata::{Limits, options, parse_filter, parse_filter_with, sql, validate};

const SCHEMAS: [&EntitySchema; 7] = [
    &USERS,
    &GROUPS,
    &allot_odata::cloud_schema::ALLOTMENTS,
    &allot_odata::cloud_schema::ASSIGNMENTS,
    &allot_odata::cloud_schema::ASSIGNMENT_ERRORS,
    &allot_odata::cloud_schema::USAGE_RIGHTS,
    &allot_odata::cloud_schema::WAITING_MEMBERS,
];

fn placeholders(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            out.push(sql[i + 1..j].parse().expect("digits"));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Checks one input; panics when an invariant breaks.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let roomy = Limits {
        max_len: 1 << 20,
        max_nodes: 1 << 20,
        ..Limits::default()
    };
    match parse_filter(text) {
        Err(e) => assert!(e.pos <= text.len().max(Limits::default().max_len), "position {} past the end", e.pos),
        Ok(expr) => {
            let printed = expr.to_string();
            let back = parse_filter_with(&printed, roomy);
            assert_eq!(back.as_ref(), Ok(&expr), "round trip of {text:?} via {printed:?}");
            for schema in SCHEMAS {
                for advanced in [false, true] {
                    if let Ok((cond, _)) = validate::validate_filter(&expr, schema, advanced) {
                        for d in [Dialect::Sqlite, Dialect::Postgres] {
                            let f = sql::to_sql(&cond, d, 3);
                            let want: Vec<usize> = (3..3 + f.params.len()).collect();
                            assert_eq!(placeholders(&f.sql), want, "placeholders of {}", f.sql);
                        }
                    }
                    // Graph errors render for every failure.
                    if let Err(e) = validate::validate_filter(&expr, schema, advanced) {
                        let _ = e.graph(allot_odata::Surface::Directory);
                    }
                }
            }
        }
    }
    if let Ok(items) = options::parse_expand(text) {
        let printed: Vec<String> = items.iter().map(ToString::to_string).collect();
        let joined = printed.join(",");
        if joined.len() <= Limits::default().max_len {
            let back = options::parse_expand(&joined);
            assert_eq!(back.as_ref(), Ok(&items), "expand round trip of {text:?} via {joined:?}");
        }
    }
    if let Ok(s) = options::parse_search(text) {
        assert_eq!(options::parse_search(&s.to_string()).as_ref(), Ok(&s), "search round trip of {text:?}");
        for schema in SCHEMAS {
            if let Ok(c) = validate::validate_search(&s, schema) {
                let f = sql::to_sql(&c, Dialect::Postgres, 1);
                assert_eq!(placeholders(&f.sql).len(), f.params.len());
            }
        }
    }
    if let Ok(items) = options::parse_orderby(text) {
        for schema in SCHEMAS {
            let _ = validate::validate_orderby(&items, schema, true, false);
        }
    }
    let _ = options::parse_select(text);
    if let Ok(a) = allot_odata::apply::parse_apply(text) {
        for schema in SCHEMAS {
            let _ = allot_odata::apply::validate_apply(&a, schema);
        }
    }
}
