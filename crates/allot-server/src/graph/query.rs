//! OData system query options on Graph requests: parsing the query string, `$select`, `$top`,
//! `$skiptoken` paging, `$count`, and `$filter`/`$search` through the `allot-odata` layer
//! (validated against the entity's schema, turned into SQL by the store). `$orderby` and
//! `$expand` are checked for syntax and then refused with a clear 400, never ignored.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use allot_odata::schema::EntitySchema;
use allot_odata::sql::SortKey;
use allot_odata::validate::{Cond, validate_filter, validate_orderby, validate_search};
use allot_odata::{QueryError, options};

use super::error::{GraphError, GraphResult};
use super::{ApiVersion, base_url};
use crate::state::AppState;

/// The query options of a request, as sent (names normalised to their `$` form).
#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    pairs: Vec<(String, String)>,
    /// The request path as the client sent it (`/v1.0/users`), for `@odata.nextLink`.
    pub path: String,
    /// `ConsistencyLevel: eventual` was sent.
    pub eventual: bool,
}

const SYSTEM_OPTIONS: &[&str] = &[
    "$select",
    "$top",
    "$skiptoken",
    "$deltatoken",
    "$count",
    "$filter",
    "$orderby",
    "$search",
    "$expand",
    "$skip",
    "$format",
    "$apply",
];

impl FromRequestParts<AppState> for ODataQuery {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
        let eventual = parts
            .headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            let lower = k.to_ascii_lowercase();
            let name = if lower.starts_with('$') {
                lower
            } else {
                format!("${lower}")
            };
            if !SYSTEM_OPTIONS.contains(&name.as_str()) {
                if k.starts_with('$') {
                    return Err(GraphError::bad_request(format!(
                        "Query option '{k}' is not supported."
                    )));
                }
                // Plain parameters that are not OData options are ignored, as OData services do.
                continue;
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(GraphError::bad_request(format!(
                    "Query option '{name}' was specified more than once, but it must be specified at most once."
                )));
            }
            pairs.push((name, v.into_owned()));
        }
        Ok(Self {
            pairs,
            path,
            eventual,
        })
    }
}

impl ODataQuery {
    /// The raw value of a query option, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses any option outside `allowed`. `$orderby` and `$expand` are read first, so that a
    /// syntax error in them is reported as one (with its position).
    pub fn only(&self, allowed: &[&str]) -> GraphResult<()> {
        if let Some(raw) = self.get("$orderby") {
            options::parse_orderby(raw)?;
        }
        if let Some(raw) = self.get("$expand") {
            options::parse_expand(raw)?;
        }
        for (name, _) in &self.pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(match name.as_str() {
                    "$filter" | "$orderby" | "$search" | "$expand" | "$apply" => {
                        GraphError::unsupported_query(format!(
                            "The query option '{name}' is not supported on this resource by this version of Allot."
                        ))
                    }
                    "$skip" => GraphError::unsupported_query(
                        "'$skip' is not supported by this API; follow @odata.nextLink.",
                    ),
                    _ => GraphError::bad_request(format!(
                        "Query option '{name}' is not allowed on this resource."
                    )),
                });
            }
        }
        Ok(())
    }

    /// `$select` resolved against the entity's properties (case-insensitive, canonical names out).
    pub fn select(&self, entity: &str, known: &[&'static str]) -> GraphResult<Option<Vec<&'static str>>> {
        let Some(raw) = self.get("$select") else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for name in &options::parse_select(raw)? {
            let Some(p) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
                return Err(GraphError::bad_request(format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.{entity}'."
                )));
            };
            if !out.contains(p) {
                out.push(*p);
            }
        }
        Ok(Some(out))
    }

    /// The raw value of a system query option (`$expand`, `$apply`, …), if sent.
    #[must_use]
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// The `@odata.nextLink` continuing at an opaque `token` of the caller's choosing.
    #[must_use]
    pub fn next_link_token(&self, token: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (n, v) in self.pairs.iter().filter(|(n, _)| n != "$skiptoken") {
            q.append_pair(n, v);
        }
        q.append_pair("$skiptoken", token);
        format!("{}{}?{}", base_url(), self.path, q.finish())
    }

    /// The raw `$filter`, if sent.
    #[must_use]
    pub fn filter(&self) -> Option<&str> {
        self.get("$filter")
    }

    /// Advanced query mode (spec §4.5): `ConsistencyLevel: eventual` with `$count=true`, or a
    /// later page of a query that was in it (clients do not forward the header to
    /// `@odata.nextLink`; the page token remembers it).
    #[must_use]
    pub fn advanced(&self) -> bool {
        let count = self
            .get("$count")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        (self.eventual && count) || self.token_advanced()
    }

    /// `$filter` and `$search` validated against `schema`, joined by `and`. `advanced`: whether
    /// operators that need advanced query mode are allowed. `$search` needs
    /// `ConsistencyLevel: eventual` (not `$count`).
    pub fn conditions(&self, schema: &EntitySchema, advanced: bool) -> GraphResult<Option<Cond>> {
        let filter = match self.get("$filter") {
            None => None,
            Some(raw) => {
                let e = allot_odata::parse_filter(raw)?;
                Some(validate_filter(&e, schema, advanced)?.0)
            }
        };
        let search = match self.get("$search") {
            None => None,
            Some(_) if !self.eventual && !self.advanced() => {
                return Err(QueryError::SearchNeedsEventual.into());
            }
            Some(raw) => {
                let unquoted = raw.trim();
                Some(validate_search(&options::parse_search(unquoted)?, schema)?)
            }
        };
        Ok(match (filter, search) {
            (Some(f), Some(s)) => Some(Cond::And(Box::new(f), Box::new(s))),
            (f, s) => f.or(s),
        })
    }

    /// `$top`, 1 to `max`, `default` when absent.
    pub fn top(&self, default: usize, max: usize) -> GraphResult<usize> {
        let Some(raw) = self.get("$top") else {
            return Ok(default);
        };
        match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(GraphError::bad_request(format!(
                "Invalid page size specified: '{raw}'. Must be between 1 and {max} inclusive."
            ))),
        }
    }

    /// Whether the page token (either kind) remembers advanced query mode.
    fn token_advanced(&self) -> bool {
        self.get("$skiptoken").is_some_and(|raw| {
            decode_token(raw).is_some_and(|(_, a)| a) || decode_keys_token(raw).is_some_and(|(_, a)| a)
        })
    }

    /// The conditions of a `/$count` path segment request: only with
    /// `ConsistencyLevel: eventual` (which is advanced mode there), else 400
    /// `Request_BadRequest` "$count is not currently supported." (spec §4.5).
    pub fn count_segment_conditions(&self, schema: &EntitySchema) -> GraphResult<Option<Cond>> {
        if !self.eventual {
            return Err(GraphError::bad_request("$count is not currently supported."));
        }
        self.conditions(schema, true)
    }

    /// The keyset position carried by `$skiptoken`.
    pub fn after(&self) -> GraphResult<Option<Uuid>> {
        let Some(raw) = self.get("$skiptoken") else {
            return Ok(None);
        };
        decode_token(raw)
            .map(|(id, _)| Some(id))
            .ok_or_else(expired_token)
    }

    /// `$orderby` checked against `schema` (sorting a filtered query needs advanced mode, spec
    /// §4.5); empty when absent.
    pub fn orderby(&self, schema: &EntitySchema, with_filter: bool) -> GraphResult<Vec<SortKey>> {
        let Some(raw) = self.get("$orderby") else {
            return Ok(Vec::new());
        };
        let items = options::parse_orderby(raw)?;
        Ok(validate_orderby(&items, schema, self.advanced(), with_filter)?)
    }

    /// The sort-key values a sorted page continues after (`$skiptoken`).
    pub fn after_keys(&self) -> GraphResult<Option<Vec<String>>> {
        let Some(raw) = self.get("$skiptoken") else {
            return Ok(None);
        };
        decode_keys_token(raw)
            .map(|(k, _)| Some(k))
            .ok_or_else(expired_token)
    }

    /// The `@odata.nextLink` continuing after the row whose sort-key values are `keys`.
    #[must_use]
    pub fn next_link_keys(&self, keys: &[String]) -> String {
        self.next_link_token(&encode_keys_token(keys, self.advanced()))
    }

    /// `$count=true` with `ConsistencyLevel: eventual`; without the header it is ignored, as Graph
    /// does for directory objects.
    pub fn count(&self) -> GraphResult<bool> {
        match self.get("$count").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(self.eventual),
            Some(other) => Err(GraphError::bad_request(format!(
                "Invalid value '{other}' for query option '$count'."
            ))),
        }
    }

    /// Whether this request is the first page (where `@odata.count` belongs).
    #[must_use]
    pub fn is_first_page(&self) -> bool {
        self.get("$skiptoken").is_none()
    }

    /// The `@odata.nextLink` continuing after `last`: the same path and options, a new token.
    #[must_use]
    pub fn next_link(&self, last: Uuid) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (n, v) in self.pairs.iter().filter(|(n, _)| n != "$skiptoken") {
            q.append_pair(n, v);
        }
        q.append_pair("$skiptoken", &encode_token(last, self.advanced()));
        format!("{}{}?{}", base_url(), self.path, q.finish())
    }

    /// `@odata.context` for a collection: `#users` or `#users(id,displayName)`.
    #[must_use]
    pub fn collection_context(version: ApiVersion, set: &str, select: Option<&[&str]>) -> String {
        match select {
            Some(s) => super::context_url(version, &format!("{set}({})", s.join(","))),
            None => super::context_url(version, set),
        }
    }
}

fn expired_token() -> GraphError {
    GraphError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
    )
}

/// The page token of a sorted query: base64url of `{"k": [sort-key values], "a": advanced}`.
fn encode_keys_token(keys: &[String], advanced: bool) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!({"k": keys, "a": advanced}).to_string())
}

fn decode_keys_token(raw: &str) -> Option<(Vec<String>, bool)> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let keys = v["k"]
        .as_array()?
        .iter()
        .map(|k| {
            k.as_str()
                .filter(|s| allot_core::text::storable(s))
                .map(str::to_owned)
        })
        .collect::<Option<Vec<_>>>()?;
    Some((keys, v["a"].as_bool().unwrap_or(false)))
}

/// The page token: the last id's 16 bytes, and a 17th (`1`) when the query is in advanced mode.
fn encode_token(last: Uuid, advanced: bool) -> String {
    let mut bytes = last.as_bytes().to_vec();
    if advanced {
        bytes.push(1);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_token(raw: &str) -> Option<(Uuid, bool)> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    match bytes.len() {
        16 => Some((Uuid::from_slice(&bytes).ok()?, false)),
        17 if bytes[16] == 1 => Some((Uuid::from_slice(&bytes[..16]).ok()?, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let id = Uuid::new_v4();
        assert_eq!(decode_token(&encode_token(id, false)), Some((id, false)));
        assert_eq!(decode_token(&encode_token(id, true)), Some((id, true)));
        assert_eq!(encode_token(id, false).len(), 22);
        assert_eq!(decode_token("not a token"), None);
        assert_eq!(decode_token(""), None);
        let mut odd = id.as_bytes().to_vec();
        odd.push(7);
        assert_eq!(decode_token(&URL_SAFE_NO_PAD.encode(odd)), None);
    }

    /// The server's `$select` lists and the OData schemas name the same properties.
    #[test]
    fn select_lists_match_the_schemas() {
        use super::super::render;
        use allot_odata::schema;
        let names = |s: &EntitySchema| s.selectable().collect::<Vec<_>>();
        assert_eq!(names(&schema::USERS), render::USER_PROPS);
        assert_eq!(names(&schema::GROUPS), render::GROUP_PROPS);
        assert_eq!(names(&schema::SUBSCRIBED_SKUS), render::SKU_PROPS);
        assert_eq!(names(&schema::LICENSE_DETAILS), render::LICENSE_DETAILS_PROPS);
    }
}
