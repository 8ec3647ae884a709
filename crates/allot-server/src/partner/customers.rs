//! `GET /v1/customers` (C1) and `GET /v1/customers/{id}` (C2): the partner's customers, one per
//! relationship the signed-in partner user holds a role in.

use allot_core::partner::Operation;
use allot_store::records::{Relationship, Tenant};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use uuid::Uuid;

use super::access::{Area, PcCaller};
use super::error::PcResult;
use super::{attributes, json_response, link};
use crate::state::AppState;

fn customer_json(t: &Tenant, r: &Relationship, by_id: bool) -> Value {
    let id = t.id.to_string();
    let mut v = json!({
        "id": id,
        "commerceId": Uuid::new_v5(&t.id.as_uuid(), b"commerce"),
        "companyProfile": {
            "tenantId": id,
            "domain": t.default_domain,
            "companyName": t.display_name,
            "links": { "self": link(&format!("/customers/{id}/profiles/company"), &[]) },
            "attributes": attributes("CustomerCompanyProfile"),
        },
        "relationshipToPartner": "reseller",
        "customDomains": [t.default_domain],
        "associatedPartnerId": r.partner,
        "links": { "self": link(&format!("/customers/{id}"), &[]) },
        "attributes": attributes("Customer"),
    });
    if by_id {
        v["allowDelegatedAccess"] = json!(true);
    }
    v
}

/// # `GET /v1/customers`
/// Seek-paged (`size`, then `seekOperation=Next` with `MS-ContinuationToken`), in tenant id order.
pub async fn list_customers(
    State(state): State<AppState>,
    caller: PcCaller,
    uri: Uri,
    headers: HeaderMap,
) -> PcResult<Response> {
    let user = caller.partner_user(Area::Directory)?;
    let pairs = super::query_pairs(&uri);
    let cursor = super::seek(&pairs, &headers)?;
    let size = match cursor.as_ref().and_then(|c| c["n"].as_i64()) {
        Some(n) => n.clamp(1, super::MAX_PAGE),
        None => super::page_size(&pairs)?,
    };
    let after = cursor
        .as_ref()
        .and_then(|c| c["after"].as_str())
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut page = Vec::new();
    let mut more = false;
    for r in state.store.relationships(caller.partner()).await? {
        if r.roles_of(user).is_empty() || after.is_some_and(|a| r.customer.as_uuid() <= a) {
            continue;
        }
        if i64::try_from(page.len()).unwrap_or(i64::MAX) == size {
            more = true;
            break;
        }
        if let Some(t) = state.store.tenant(r.customer).await? {
            page.push((t, r));
        }
    }
    let next = if more {
        page.last().map(|(t, _)| {
            let token = super::encode_token(&json!({ "after": t.id, "n": size }));
            ("/customers?seekOperation=Next".to_owned(), token)
        })
    } else {
        None
    };
    let items = page.iter().map(|(t, r)| customer_json(t, r, false)).collect();
    let body = super::seek_collection(items, &format!("/customers?size={size}"), next);
    Ok(json_response(StatusCode::OK, &body))
}

/// # `GET /v1/customers/{customer-tenant-id}`
pub async fn get_customer(
    State(state): State<AppState>,
    caller: PcCaller,
    Path(cid): Path<String>,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::ReadCustomer, Area::Directory)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &customer_json(&c.tenant, &c.relationship, true),
    ))
}
