//! Fairness: the expensive requests (`$filter`, `$search`, `$count`, `$orderby`, `$expand`,
//! `$apply`, `/$count`, pages over 100 items, Partner Center user searches) run at most
//! `--expensive-per-caller` at a time per caller and `--expensive-total` at a time in all, so a
//! client looping costly queries waits for its own turn instead of taking every core and
//! database connection from everyone else. Cheap requests (`subscribedSkus`, one user, license
//! details) never wait here. A request that has waited `--expensive-wait` seconds is answered
//! 429 with `Retry-After`, in its surface's shape, as Graph throttles.
//!
//! A caller is the tenant, app and user of a valid token (so one app cannot spread itself over
//! many tokens); requests without a valid token share one anonymous caller (they are refused
//! by the handler anyway).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::auth::tokens::{Caller, GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE};
use crate::state::AppState;
use crate::throttle::{Surface, too_many};

/// The limits and the callers' turns.
#[derive(Debug)]
pub struct Fairness {
    total: Arc<Semaphore>,
    per_caller: usize,
    wait: Duration,
    callers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fairness {
    #[must_use]
    pub fn new(per_caller: usize, total: usize, wait: Duration) -> Self {
        Self {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_caller: per_caller.max(1),
            wait,
            callers: Mutex::new(HashMap::new()),
        }
    }

    fn caller(&self, key: &str) -> Arc<Semaphore> {
        let Ok(mut callers) = self.callers.lock() else {
            return Arc::new(Semaphore::new(self.per_caller));
        };
        if callers.len() > 10_000 {
            // Forget callers with nothing in flight.
            let idle = self.per_caller;
            callers.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < idle);
        }
        Arc::clone(
            callers
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_caller))),
        )
    }
}

/// Whether a request is one of the expensive kinds.
fn expensive(path: &str, query: Option<&str>) -> bool {
    if path.ends_with("/$count") {
        return true;
    }
    let partner = path.starts_with("/v1/");
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            matches!(
                k.as_str(),
                "$filter" | "$search" | "$orderby" | "$expand" | "$apply"
            ) || (k == "$count" && v.eq_ignore_ascii_case("true"))
                || (k == "$top" && v.parse::<u32>().is_ok_and(|n| n > 100))
                || (partner && k == "filter")
        })
    })
}

fn caller_key(state: &AppState, req: &Request, surface: Surface) -> String {
    let audience = match surface {
        Surface::Graph => GRAPH_RESOURCE,
        Surface::PartnerCenter => PARTNER_CENTER_RESOURCE,
    };
    let principal = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(_, t)| state.tokens.validate(t.trim(), audience).ok());
    match principal {
        Some(p) => match p.caller {
            Caller::App { app, .. } => format!("{}/{app}", p.tenant),
            Caller::User { app, user, .. } => format!("{}/{app}/{user}", p.tenant),
        },
        None => "anonymous".to_owned(),
    }
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !expensive(req.uri().path(), req.uri().query()) {
        return next.run(req).await;
    }
    let surface = if req.uri().path().starts_with("/v1/") {
        Surface::PartnerCenter
    } else {
        Surface::Graph
    };
    let fair = &state.fairness;
    let caller = fair.caller(&caller_key(&state, &req, surface));
    let total = Arc::clone(&fair.total);
    let turn = tokio::time::timeout(fair.wait, async move {
        let mine = caller.acquire_owned().await.ok()?;
        let any = total.acquire_owned().await.ok()?;
        Some((mine, any))
    })
    .await;
    match turn {
        Ok(Some(permits)) => {
            let resp = next.run(req).await;
            drop(permits);
            resp
        }
        _ => too_many(surface, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::expensive;

    #[test]
    fn expensive_requests_are_told_apart() {
        for (path, q) in [
            ("/v1.0/users/$count", None),
            ("/v1.0/users", Some("$filter=startswith(displayName,'a')")),
            ("/v1.0/users", Some("%24search=%22displayName%3Aa%22")),
            ("/v1.0/users", Some("$count=true")),
            ("/v1.0/users", Some("$top=999")),
            (
                "/beta/admin/cloudLicensing/allotments",
                Some("$apply=aggregate(x)"),
            ),
            ("/v1/customers/x/users", Some("filter=%7B%7D")),
        ] {
            assert!(expensive(path, q), "{path}?{q:?}");
        }
        for (path, q) in [
            ("/v1.0/subscribedSkus", None),
            ("/v1.0/users", Some("$top=100&$select=id")),
            ("/v1.0/users/x/licenseDetails", None),
            ("/v1.0/users", Some("$count=false")),
            ("/v1/customers/x/users/y/licenses", Some("licenseGroupIds=Group1")),
        ] {
            assert!(!expensive(path, q), "{path}?{q:?}");
        }
    }
}
