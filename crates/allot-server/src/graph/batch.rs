//! JSON batching: `POST /v1.0/$batch` and `/beta/$batch`.
//! <https://learn.microsoft.com/en-us/graph/json-batching>
//!
//! A batch is at most [`MAX_REQUESTS`] requests. Each one is turned into an ordinary HTTP request
//! (the batch's version prefixed to its relative URL, the outer bearer token, the outer host) and
//! sent through the whole server stack without the batch routes ([`Dispatch`]): the same routes,
//! permission checks, throttling, fairness and operation layer as if it had come alone. Nothing
//! is atomic across requests. `dependsOn` orders them: a request runs once everything it depends
//! on has answered, and answers 424 when one of those failed. Requests whose dependencies are met
//! run side by side.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest as _, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::error::GraphError;
use super::extract::{Auth, JsonObject};
use super::{ApiVersion, json_response};
use crate::config::Scheme;
use crate::state::AppState;

/// Graph's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 20;

/// The largest inner response body read back into the batch answer.
const MAX_INNER_RESPONSE: usize = 64 * 1024 * 1024;

/// The server stack inner requests are sent through: every route but the batch routes, with every
/// layer.
#[derive(Clone)]
pub struct Dispatch(pub Router);

/// The batch routes, one per version.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1.0/$batch", post(batch).layer(Extension(ApiVersion::V1)))
        .route("/beta/$batch", post(batch).layer(Extension(ApiVersion::Beta)))
}

/// One request of a batch, as parsed.
#[derive(Debug)]
struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Vec<usize>,
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `{"requests":[...]}` to items, or the batch's 400.
fn parse(body: &Map<String, Value>) -> Result<Vec<Item>, GraphError> {
    let Some(Value::Array(requests)) = body.get("requests") else {
        return Err(invalid(
            "Invalid batch payload format: the body must be an object with a 'requests' array.",
        ));
    };
    if requests.len() > MAX_REQUESTS {
        return Err(invalid("Number of requests inside batch exceeds the limit."));
    }
    if requests.is_empty() {
        return Err(invalid("Invalid batch payload format: 'requests' is empty."));
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "Invalid batch payload format: request {} has no 'id'.",
                    i + 1
                ))
            })?;
        if index.insert(id.to_lowercase(), i).is_some() {
            return Err(invalid(format!(
                "Batch request contains duplicate request id '{id}'."
            )));
        }
    }
    let mut items = Vec::with_capacity(requests.len());
    for r in requests {
        let Value::Object(r) = r else {
            return Err(invalid(
                "Invalid batch payload format: each request must be an object.",
            ));
        };
        let id = r.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let text = |key: &str| {
            r.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid(format!("Request '{id}' has no '{key}'.")))
        };
        let method = Method::from_bytes(text("method")?.to_uppercase().as_bytes())
            .map_err(|_| invalid(format!("Request '{id}' has an invalid 'method'.")))?;
        let url = text("url")?.to_owned();
        let headers = match r.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(invalid(format!("Request '{id}': header '{k}' must be a string."))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("Request '{id}': 'headers' must be an object."))),
        };
        let body = r.get("body").filter(|b| !b.is_null()).cloned();
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            return Err(invalid(format!(
                "Request '{id}' has a body but no Content-Type header."
            )));
        }
        // msgraph-sdk-python (msgraph-core 1.5) writes `depends_on`.
        let depends_on = match r.get("dependsOn").or_else(|| r.get("depends_on")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|d| {
                    d.as_str()
                        .and_then(|d| index.get(&d.to_lowercase()).copied())
                        .ok_or_else(|| {
                            invalid(format!(
                                "Request '{id}' depends on {d}, which is not a request of this batch."
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("Request '{id}': 'dependsOn' must be an array."))),
        };
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    order(&items)?;
    Ok(items)
}

/// The waves the items run in: each wave holds the items whose dependencies all ran in earlier
/// waves. A cycle is the batch's 400.
fn order(items: &[Item]) -> Result<Vec<Vec<usize>>, GraphError> {
    let mut done = vec![false; items.len()];
    let mut waves = Vec::new();
    let mut left = items.len();
    while left > 0 {
        let wave: Vec<usize> = (0..items.len())
            .filter(|&i| !done[i] && items[i].depends_on.iter().all(|&d| done[d]))
            .collect();
        if wave.is_empty() {
            return Err(invalid(
                "Invalid batch payload format: the 'dependsOn' references form a cycle.",
            ));
        }
        for &i in &wave {
            done[i] = true;
        }
        left -= wave.len();
        waves.push(wave);
    }
    Ok(waves)
}

/// What every inner request takes from the outer one.
#[derive(Clone)]
struct Outer {
    version: ApiVersion,
    authorization: HeaderValue,
    host: Option<HeaderValue>,
    client_request_id: Option<HeaderValue>,
    peer: Option<ConnectInfo<SocketAddr>>,
    scheme: Option<Scheme>,
}

async fn batch(
    State(state): State<AppState>,
    Extension(dispatch): Extension<Dispatch>,
    Extension(version): Extension<ApiVersion>,
    _auth: Auth,
    req: Request,
) -> Result<Response, GraphError> {
    let outer = Outer {
        version,
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .cloned()
            .ok_or_else(GraphError::internal)?,
        host: req.headers().get(header::HOST).cloned(),
        client_request_id: req.headers().get(&crate::context::CLIENT_REQUEST_ID).cloned(),
        peer: req.extensions().get::<ConnectInfo<SocketAddr>>().copied(),
        scheme: req.extensions().get::<Scheme>().copied(),
    };
    let JsonObject(body) = JsonObject::from_request(req, &state).await?;
    let items = parse(&body)?;
    let waves = order(&items)?;
    let mut answers: Vec<Option<Value>> = vec![None; items.len()];
    let mut failed = vec![false; items.len()];
    for wave in waves {
        let mut running = JoinSet::new();
        for i in wave {
            let item = &items[i];
            if item.depends_on.iter().any(|&d| failed[d]) {
                failed[i] = true;
                answers[i] = Some(failed_dependency(&item.id));
                continue;
            }
            let request = match inner_request(&outer, item) {
                Ok(r) => r,
                Err(e) => {
                    failed[i] = true;
                    answers[i] = Some(answer(&item.id, e.into_response()).await);
                    continue;
                }
            };
            let router = dispatch.0.clone();
            running.spawn(async move { (i, router.oneshot(request).await.unwrap_or_else(|e| match e {})) });
        }
        while let Some(joined) = running.join_next().await {
            let (i, response) = joined.map_err(|_| GraphError::internal())?;
            failed[i] = !response.status().is_success();
            answers[i] = Some(answer(&items[i].id, response).await);
        }
    }
    let responses: Vec<Value> = answers.into_iter().flatten().collect();
    Ok(json_response(StatusCode::OK, &json!({ "responses": responses })))
}

/// The HTTP request an item stands for, or the item's own 400 when its URL is not a relative URL
/// of the version, or is itself a batch.
fn inner_request(outer: &Outer, item: &Item) -> Result<Request, GraphError> {
    let bad_url = || {
        invalid(format!(
            "Invalid request URL '{}' in request '{}'.",
            item.url, item.id
        ))
    };
    let relative = relative_url(&item.url, outer.version).ok_or_else(bad_url)?;
    let path = relative.split('?').next().unwrap_or("");
    if item.url.contains('#') || path.split('/').any(|s| s == "." || s == "..") {
        return Err(bad_url());
    }
    if path.trim_end_matches('/').eq_ignore_ascii_case("$batch") {
        return Err(invalid("Nested batch requests are not supported."));
    }
    let uri: Uri = format!("/{}/{relative}", outer.version.segment())
        .parse()
        .map_err(|_| bad_url())?;
    let mut headers = HeaderMap::new();
    for (k, v) in &item.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            invalid(format!(
                "Request '{}': '{k}' is not a valid header name.",
                item.id
            ))
        })?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| invalid(format!("Request '{}': the value of '{k}' is not valid.", item.id)))?;
        headers.append(name, value);
    }
    // The outer request's credentials and host, whatever the item says.
    headers.insert(header::AUTHORIZATION, outer.authorization.clone());
    if let Some(h) = &outer.host {
        headers.insert(header::HOST, h.clone());
    }
    if !headers.contains_key(&crate::context::CLIENT_REQUEST_ID)
        && let Some(c) = &outer.client_request_id
    {
        headers.insert(crate::context::CLIENT_REQUEST_ID.clone(), c.clone());
    }
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    let body = match &item.body {
        None => Body::empty(),
        Some(v) => Body::from(body_bytes(item, &headers, v)?),
    };
    let mut req = Request::new(body);
    *req.method_mut() = item.method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    if let Some(p) = outer.peer {
        req.extensions_mut().insert(p);
    }
    if let Some(s) = outer.scheme {
        req.extensions_mut().insert(s);
    }
    Ok(req)
}

/// An item's URL relative to the batch's version, without its leading `/`. Graph's form is
/// relative (`/users/{id}/assignLicense`); an absolute URL under the same version
/// (`https://graph.microsoft.com/v1.0/users/...`, which msgraph-sdk-python sends) is taken too.
fn relative_url(url: &str, version: ApiVersion) -> Option<&str> {
    let Some((_, rest)) = url.split_once("://") else {
        return Some(url.strip_prefix('/').unwrap_or(url));
    };
    let after_host = &rest[rest.find('/')?..];
    let prefix = format!("/{}/", version.segment());
    let head = after_host.get(..prefix.len())?;
    head.eq_ignore_ascii_case(&prefix)
        .then(|| &after_host[prefix.len()..])
}

/// A JSON body as JSON; another content type's body is a base64 string, as Graph takes it.
fn body_bytes(item: &Item, headers: &HeaderMap, body: &Value) -> Result<Vec<u8>, GraphError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    match body {
        Value::String(s) if !is_json => BASE64.decode(s).map_err(|_| {
            invalid(format!(
                "Request '{}': a body that is not JSON must be base64.",
                item.id
            ))
        }),
        v => Ok(serde_json::to_vec(v).unwrap_or_default()),
    }
}

/// 424 for an item one of whose dependencies failed.
fn failed_dependency(id: &str) -> Value {
    json!({
        "id": id,
        "status": 424,
        "headers": {"Content-Type": "application/json"},
        "body": {"error": {
            "code": "FailedDependency",
            "message": "The request was not run: a request it depends on failed.",
        }},
    })
}

/// An inner response as a batch answer item: its status, its headers (with the casing Graph
/// shows) and its body (JSON, or base64 for other content types; absent when empty).
async fn answer(id: &str, response: Response) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        if matches!(
            name.as_str(),
            "content-length" | "date" | "connection" | "transfer-encoding" | "keep-alive"
        ) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.insert(header_case(name.as_str()), Value::String(v.to_owned()));
        }
    }
    let mut item = json!({
        "id": id,
        "status": parts.status.as_u16(),
        "headers": headers,
    });
    let bytes = axum::body::to_bytes(body, MAX_INNER_RESPONSE)
        .await
        .unwrap_or_default();
    if !bytes.is_empty() {
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        item["body"] = if is_json {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(BASE64.encode(&bytes)))
        } else {
            Value::String(BASE64.encode(&bytes))
        };
    }
    item
}

/// `retry-after` as `Retry-After`, `odata-version` as `OData-Version`.
fn header_case(name: &str) -> String {
    if name == "odata-version" {
        return "OData-Version".to_owned();
    }
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: Value) -> Result<Vec<Item>, GraphError> {
        let Value::Object(m) = v else { unreachable!() };
        parse(&m)
    }

    fn req(id: &str, deps: &[&str]) -> Value {
        json!({"id": id, "method": "GET", "url": "/users", "dependsOn": deps})
    }

    #[test]
    fn dependencies_run_in_waves_and_cycles_are_refused() {
        let parsed = items(
            json!({"requests": [req("1", &[]), req("2", &["1"]), req("3", &["1"]), req("4", &["2", "3"])]}),
        )
        .unwrap();
        assert_eq!(order(&parsed).unwrap(), vec![vec![0], vec![1, 2], vec![3]]);
        let cyclic = items(json!({"requests": [req("a", &["b"]), req("b", &["a"])]}));
        assert!(cyclic.is_err());
        let unknown = items(json!({"requests": [req("a", &["zz"])]}));
        assert!(unknown.is_err());
    }

    #[test]
    fn ids_are_unique_without_regard_to_case() {
        assert!(items(json!({"requests": [req("A", &[]), req("a", &[])]})).is_err());
        let many: Vec<Value> = (0..21).map(|i| req(&i.to_string(), &[])).collect();
        assert!(items(json!({"requests": many})).is_err());
    }

    #[test]
    fn header_names_take_graphs_casing() {
        assert_eq!(header_case("retry-after"), "Retry-After");
        assert_eq!(header_case("content-type"), "Content-Type");
        assert_eq!(header_case("odata-version"), "OData-Version");
    }

    #[test]
    fn absolute_urls_are_taken_under_the_batchs_version_only() {
        let v1 = ApiVersion::V1;
        assert_eq!(relative_url("/users/1", v1), Some("users/1"));
        assert_eq!(relative_url("users/1?$top=1", v1), Some("users/1?$top=1"));
        assert_eq!(
            relative_url("https://graph.microsoft.com/v1.0/users/1", v1),
            Some("users/1")
        );
        assert_eq!(relative_url("http://127.0.0.1:5066/V1.0/me", v1), Some("me"));
        assert_eq!(relative_url("https://graph.microsoft.com/beta/users", v1), None);
        assert_eq!(relative_url("https://graph.microsoft.com", v1), None);
        assert_eq!(relative_url("https://graph.microsoft.com/v1.0", v1), None);
    }
}
