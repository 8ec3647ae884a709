//! `GET /auditLogs/directoryAudits` and `/{id}`: the audit log as Graph serves it, newest first,
//! with the `$filter` forms Graph documents for it (`allot_odata::schema::DIRECTORY_AUDITS`).
//! <https://learn.microsoft.com/en-us/graph/api/directoryaudit-list>

use allot_odata::schema;
use allot_store::audit::AuditRow;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::kit::Collection;
use super::query::ODataQuery;
use super::render::timestamp;
use super::{ApiVersion, context_url, json_response, perm};
use crate::state::AppState;

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A record as Graph shows it.
fn record_json(r: &AuditRow) -> Map<String, Value> {
    let v = json!({
        "id": r.id,
        "category": r.category,
        "correlationId": r.correlation_id.to_string(),
        "result": r.result,
        "resultReason": r.result_reason,
        "activityDisplayName": r.activity,
        "activityDateTime": timestamp(r.activity_at),
        "loggedByService": r.logged_by_service,
        "operationType": r.operation_type,
        "userAgent": null,
        "initiatedBy": parsed(&r.initiated_by),
        "targetResources": parsed(&r.target_resources),
        "additionalDetails": parsed(&r.additional),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// # `GET /auditLogs/directoryAudits`
pub async fn list_directory_audits(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::AUDIT_READ.check(&auth.0.caller)?;
    q.only(&["$filter", "$top", "$skiptoken"])?;
    let top = q.top(100, 999)?;
    let cond = q.conditions(&schema::DIRECTORY_AUDITS, q.advanced())?;
    let after = match q.after_keys()? {
        None => None,
        Some(keys) => {
            let [at, id] = keys.as_slice() else {
                return Err(GraphError::bad_request(
                    "The page token does not belong to this query.",
                ));
            };
            let at = DateTime::parse_from_rfc3339(at)
                .map_err(|_| GraphError::bad_request("The page token does not belong to this query."))?
                .with_timezone(&Utc);
            Some((at, id.clone()))
        }
    };
    let limit = i64::try_from(top + 1).unwrap_or(1000);
    let mut rows = state
        .store
        .audit_page(auth.0.tenant, cond.as_ref(), after, limit)
        .await?;
    let more = rows.len() > top;
    rows.truncate(top);
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|r| q.next_link_keys(&[r.activity_at.to_rfc3339(), r.id.clone()]));
    let values = rows.iter().map(|r| Value::Object(record_json(r))).collect();
    Ok(
        Collection::new(context_url(version, "auditLogs/directoryAudits"), values)
            .next(next)
            .into_response(),
    )
}

/// # `GET /auditLogs/directoryAudits/{id}`
pub async fn get_directory_audit(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::AUDIT_READ.check(&auth.0.caller)?;
    q.only(&[])?;
    let r = state
        .store
        .audit_record(auth.0.tenant, &id)
        .await?
        .ok_or_else(|| GraphError::resource_not_found(&id))?;
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        json!(context_url(version, "auditLogs/directoryAudits/$entity")),
    );
    m.extend(record_json(&r));
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}
