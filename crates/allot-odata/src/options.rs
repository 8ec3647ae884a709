//! The other system query options: `$select`, `$expand` (with nested `$select`, `$filter` and
//! `$top`), `$orderby`, `$top`, `$count` and `$search`.
//!
//! ```text
//! select    = ident { "," ident }
//! expand    = item { "," item }
//! item      = ident [ "(" nested { ";" nested } ")" ]
//! nested    = "$select=" select | "$filter=" filter | "$top=" 1*DIGIT
//! orderby   = path [ "asc" | "desc" ] { "," path [ "asc" | "desc" ] }
//! top       = 1*DIGIT
//! count     = "true" | "false"
//! search    = conj { "OR" conj }
//! conj      = term { "AND" term }
//! term      = DQUOTE property ":" value DQUOTE
//! ```
//!
//! Whitespace around names and separators is ignored. `$search` keywords are upper case, as
//! Graph documents them.

use crate::ast::{ExpandItem, OrderBy, Search, SearchTerm};
use crate::error::{ParseError, ParseErrorKind, QueryError, QueryOption};
use crate::parser::{Limits, parse_expr_at, parse_orderby_items};

/// Most items in one `$select`, `$expand` or `$orderby`, and terms in one `$search`.
pub const MAX_ITEMS: usize = 64;

pub(crate) fn check_len(text: &str, option: QueryOption, limits: Limits) -> Result<(), ParseError> {
    no_nul(text, option)?;
    if text.len() > limits.max_len {
        return Err(ParseError::new(
            option,
            limits.max_len,
            ParseErrorKind::TooLong { max: limits.max_len },
        ));
    }
    Ok(())
}

/// Refuses the NUL character anywhere in an option's text, at its position.
pub(crate) fn no_nul(text: &str, option: QueryOption) -> Result<(), ParseError> {
    match text.find('\0') {
        Some(pos) => Err(ParseError::new(option, pos, ParseErrorKind::Nul)),
        None => Ok(()),
    }
}

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Splits `text` on `sep` at parenthesis depth 0 outside `'...'` strings, with each piece's byte
/// offset. `None` when parentheses do not balance (the offset of the problem is returned).
fn split_top(text: &str, sep: u8) -> Result<Vec<(usize, &str)>, usize> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut start) = (0usize, false, 0usize);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_str = !in_str,
            _ if in_str => {}
            b'(' => depth += 1,
            b')' => {
                if depth == 0 {
                    return Err(i);
                }
                depth -= 1;
            }
            _ if b == sep && depth == 0 => {
                out.push((start, &text[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || in_str {
        return Err(text.len());
    }
    out.push((start, &text[start..]));
    Ok(out)
}

/// Trims `s` found at `offset`, returning the new offset too.
fn trim_at(offset: usize, s: &str) -> (usize, &str) {
    let lead = s.len() - s.trim_start().len();
    (offset + lead, s.trim())
}

fn names(text: &str, base: usize, option: QueryOption) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in text.split(',') {
        let (pos, name) = trim_at(base + offset, piece);
        offset += piece.len() + 1;
        if !is_name(name) {
            let found = if name.is_empty() {
                "nothing".to_owned()
            } else {
                format!("'{name}'")
            };
            return Err(ParseError::new(
                option,
                pos,
                ParseErrorKind::Unexpected {
                    found,
                    expected: "a property name",
                },
            ));
        }
        if out.len() == MAX_ITEMS {
            return Err(ParseError::new(
                option,
                pos,
                ParseErrorKind::TooManyItems { max: MAX_ITEMS },
            ));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

/// `$select`: property names as written (the schema resolves them case-insensitively).
pub fn parse_select(text: &str) -> Result<Vec<String>, ParseError> {
    check_len(text, QueryOption::Select, Limits::default())?;
    names(text, 0, QueryOption::Select)
}

/// `$expand`, e.g. `allotment($filter=skuId in (...);$select=id,skuId)`.
pub fn parse_expand(text: &str) -> Result<Vec<ExpandItem>, ParseError> {
    let limits = Limits::default();
    let option = QueryOption::Expand;
    check_len(text, option, limits)?;
    let unbalanced = |pos| {
        ParseError::new(
            option,
            pos,
            ParseErrorKind::Unexpected {
                found: "unbalanced parentheses or quotes".to_owned(),
                expected: "a property name with optional '(...)'",
            },
        )
    };
    let mut out = Vec::new();
    for (off, raw) in split_top(text, b',').map_err(unbalanced)? {
        let (pos, item) = trim_at(off, raw);
        if out.len() == MAX_ITEMS {
            return Err(ParseError::new(
                option,
                pos,
                ParseErrorKind::TooManyItems { max: MAX_ITEMS },
            ));
        }
        let (name, inner) = match item.find('(') {
            Some(i) if item.ends_with(')') => (
                item[..i].trim_end(),
                Some((pos + i + 1, &item[i + 1..item.len() - 1])),
            ),
            Some(i) => return Err(unbalanced(pos + i)),
            None => (item, None),
        };
        if !is_name(name) {
            return Err(ParseError::new(
                option,
                pos,
                ParseErrorKind::Unexpected {
                    found: if name.is_empty() {
                        "nothing".to_owned()
                    } else {
                        format!("'{name}'")
                    },
                    expected: "a navigation property name",
                },
            ));
        }
        let mut e = ExpandItem {
            name: name.to_owned(),
            select: None,
            filter: None,
            top: None,
        };
        if let Some((ipos, inner)) = inner {
            for (o, opt) in split_top(inner, b';').map_err(|p| unbalanced(ipos + p))? {
                let (opos, opt) = trim_at(ipos + o, opt);
                let Some(eq) = opt.find('=') else {
                    return Err(ParseError::new(
                        option,
                        opos,
                        ParseErrorKind::Unexpected {
                            found: format!("'{opt}'"),
                            expected: "'$select=', '$filter=' or '$top='",
                        },
                    ));
                };
                let key = opt[..eq].trim().trim_start_matches('$').to_ascii_lowercase();
                let vpos = opos + eq + 1;
                let value = &opt[eq + 1..];
                let dup = |pos| {
                    ParseError::new(
                        option,
                        pos,
                        ParseErrorKind::Unexpected {
                            found: format!("a second '${key}'"),
                            expected: "each nested option at most once",
                        },
                    )
                };
                match key.as_str() {
                    "select" if e.select.is_none() => e.select = Some(names(value, vpos, option)?),
                    "filter" if e.filter.is_none() => {
                        e.filter = Some(parse_expr_at(value, limits, option, vpos)?);
                    }
                    "top" if e.top.is_none() => {
                        let (tpos, t) = trim_at(vpos, value);
                        e.top = Some(t.parse().map_err(|_| {
                            ParseError::new(option, tpos, ParseErrorKind::BadLiteral(t.to_owned()))
                        })?);
                    }
                    "select" | "filter" | "top" => return Err(dup(opos)),
                    _ => {
                        return Err(ParseError::new(
                            option,
                            opos,
                            ParseErrorKind::Unexpected {
                                found: format!("'{}'", &opt[..eq]),
                                expected: "'$select=', '$filter=' or '$top='",
                            },
                        ));
                    }
                }
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// `$orderby`.
pub fn parse_orderby(text: &str) -> Result<Vec<OrderBy>, ParseError> {
    let limits = Limits {
        max_nodes: MAX_ITEMS,
        ..Limits::default()
    };
    parse_orderby_items(text, limits)
}

/// `$top`: a non-negative integer.
pub fn parse_top(text: &str) -> Result<u32, QueryError> {
    text.trim().parse().map_err(|_| QueryError::InvalidValue {
        option: QueryOption::Top,
        value: text.to_owned(),
    })
}

/// `$count`: `true` or `false` (any case).
pub fn parse_count(text: &str) -> Result<bool, QueryError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(QueryError::InvalidValue {
            option: QueryOption::Count,
            value: text.to_owned(),
        }),
    }
}

/// `$search` in Graph's `"property:value"` form, terms joined by `AND` / `OR`.
pub fn parse_search(text: &str) -> Result<Search, ParseError> {
    let option = QueryOption::Search;
    check_len(text, option, Limits::default())?;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut any_of: Vec<Vec<SearchTerm>> = vec![Vec::new()];
    let mut terms = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i] == b' ' {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= bytes.len() {
            return Err(ParseError::new(
                option,
                i,
                if terms == 0 {
                    ParseErrorKind::Empty
                } else {
                    ParseErrorKind::Unexpected {
                        found: "the end".to_owned(),
                        expected: "a \"property:value\" term",
                    }
                },
            ));
        }
        if bytes[i] != b'"' {
            return Err(ParseError::new(
                option,
                i,
                ParseErrorKind::Unexpected {
                    found: format!("'{}'", text[i..].chars().next().unwrap_or('?')),
                    expected: "a \"property:value\" term",
                },
            ));
        }
        let start = i;
        let Some(len) = text[i + 1..].find('"') else {
            return Err(ParseError::new(option, start, ParseErrorKind::UnterminatedString));
        };
        let inner = &text[i + 1..i + 1 + len];
        i += len + 2;
        let Some(colon) = inner.find(':') else {
            return Err(ParseError::new(
                option,
                start + 1,
                ParseErrorKind::Unexpected {
                    found: format!("\"{inner}\""),
                    expected: "a \"property:value\" term",
                },
            ));
        };
        let property = inner[..colon].trim();
        if !is_name(property) {
            return Err(ParseError::new(
                option,
                start + 1,
                ParseErrorKind::Unexpected {
                    found: format!("'{property}'"),
                    expected: "a property name",
                },
            ));
        }
        terms += 1;
        if terms > MAX_ITEMS {
            return Err(ParseError::new(
                option,
                start,
                ParseErrorKind::TooManyItems { max: MAX_ITEMS },
            ));
        }
        if let Some(last) = any_of.last_mut() {
            last.push(SearchTerm {
                property: property.to_owned(),
                value: inner[colon + 1..].to_owned(),
            });
        }
        skip_ws(&mut i);
        if i >= bytes.len() {
            return Ok(Search { any_of });
        }
        let rest = &text[i..];
        let keyword = |k: &str| {
            rest.strip_prefix(k)
                .is_some_and(|after| after.is_empty() || after.starts_with([' ', '"']))
        };
        if keyword("AND") {
            i += 3;
        } else if keyword("OR") {
            i += 2;
            any_of.push(Vec::new());
        } else {
            return Err(ParseError::new(
                option,
                i,
                ParseErrorKind::Unexpected {
                    found: format!("'{}'", rest.split(' ').next().unwrap_or(rest)),
                    expected: "'AND', 'OR' or the end",
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Expr;

    #[test]
    fn select_names_and_errors() {
        assert_eq!(parse_select(" id , displayName").unwrap(), ["id", "displayName"]);
        let e = parse_select("id,,x").unwrap_err();
        assert_eq!((e.option, e.pos), (QueryOption::Select, 3));
        let e = parse_select("id, dis-play").unwrap_err();
        assert_eq!(e.pos, 4);
        assert!(e.to_string().contains("'dis-play'"), "{e}");
        let many = vec!["a"; 65].join(",");
        assert_eq!(
            parse_select(&many).unwrap_err().kind,
            ParseErrorKind::TooManyItems { max: 64 }
        );
    }

    #[test]
    fn expand_with_nested_options() {
        let g1 = "639dec6b-bb19-468b-871c-c5c441c4b0cb";
        let g2 = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";
        let items = parse_expand(&format!("allotment($filter=skuId in ({g1}, {g2}))")).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name, "allotment");
        let Some(Expr::In(_, list)) = &items[0].filter else {
            panic!("{items:?}")
        };
        assert_eq!(list.len(), 2);
        let items = parse_expand("assignedTo,allotment($select=id,skuId;$top=5)").unwrap();
        assert_eq!(items[0].to_string(), "assignedTo");
        assert_eq!(items[1].to_string(), "allotment($select=id,skuId;$top=5)");
        assert_eq!(
            items[1].select.as_deref(),
            Some(&["id".to_owned(), "skuId".to_owned()][..])
        );
        // A ';' or ',' inside a string of the nested filter does not split.
        let items = parse_expand("a($filter=name eq 'x;y,z')").unwrap();
        assert_eq!(items[0].to_string(), "a($filter=name eq 'x;y,z')");
    }

    #[test]
    fn expand_errors_point_into_the_option() {
        let e = parse_expand("allotment($filter=skuId eq)").unwrap_err();
        assert_eq!((e.option, e.pos), (QueryOption::Expand, 26));
        let e = parse_expand("allotment($filter=skuId eq 1").unwrap_err();
        assert_eq!(e.pos, 28);
        let e = parse_expand("allotment($orderby=x)").unwrap_err();
        assert_eq!(e.pos, 10);
        let e = parse_expand("a($top=1;$top=2)").unwrap_err();
        assert_eq!(e.pos, 9);
        let e = parse_expand("a,,b").unwrap_err();
        assert_eq!(e.pos, 2);
        let e = parse_expand("a($top=x)").unwrap_err();
        assert_eq!(e.pos, 7);
    }

    #[test]
    fn top_and_count() {
        assert_eq!(parse_top("999"), Ok(999));
        assert!(parse_top("-1").is_err());
        assert!(parse_top("ten").is_err());
        assert_eq!(parse_count("TRUE"), Ok(true));
        assert_eq!(parse_count("false"), Ok(false));
        assert!(parse_count("yes").is_err());
    }

    #[test]
    fn search_terms() {
        let s = parse_search("\"displayName:Ada Love\" AND \"mail:ada\" OR \"surname:x\"").unwrap();
        assert_eq!(s.any_of.len(), 2);
        assert_eq!(s.any_of[0][0].value, "Ada Love");
        assert_eq!(
            s.to_string(),
            "\"displayName:Ada Love\" AND \"mail:ada\" OR \"surname:x\""
        );
        assert_eq!(parse_search(&s.to_string()).unwrap(), s);
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("displayName:x", 0),
            ("\"displayName:x", 0),
            ("\"nocolon\"", 1),
            ("\"displayName:x\" and \"mail:y\"", 16),
            ("\"displayName:x\" AND", 19),
            ("\"bad name:x\"", 1),
        ];
        for (input, pos) in cases {
            let e = parse_search(input).expect_err(input);
            assert_eq!((e.option, e.pos), (QueryOption::Search, *pos), "{input}: {e}");
        }
    }
}
