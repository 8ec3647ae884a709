//! OData system query options on Graph requests: parsing the query string, `$select`, `$top`,
//! `$skiptoken` paging and `$count`. `$filter`, `$orderby`, `$search` and `$expand` belong to the
//! OData layer of issue #4; until then they are refused with a clear 400, never ignored.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

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
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses any option outside `allowed`.
    pub fn only(&self, allowed: &[&str]) -> GraphResult<()> {
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
        for name in raw.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(GraphError::bad_request(
                    "Syntax error: an empty property name in '$select'.",
                ));
            }
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

    /// The keyset position carried by `$skiptoken`.
    pub fn after(&self) -> GraphResult<Option<Uuid>> {
        let Some(raw) = self.get("$skiptoken") else {
            return Ok(None);
        };
        decode_token(raw).map(Some).ok_or_else(|| {
            GraphError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            )
        })
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
        q.append_pair("$skiptoken", &encode_token(last));
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

fn encode_token(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_token(raw: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let id = Uuid::new_v4();
        assert_eq!(decode_token(&encode_token(id)), Some(id));
        assert_eq!(decode_token("not a token"), None);
        assert_eq!(decode_token(""), None);
    }
}
