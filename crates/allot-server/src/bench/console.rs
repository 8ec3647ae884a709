//! `allot bench console`: the server time of each console page on a large tenant. Each page view
//! is the sequence of API requests the console's module for that page sends (crates/allot-server/
//! console/), timed end to end over loopback HTTP, one after another as a browser tab sends them.

use std::time::{Duration, Instant};

use allot_core::tenant_file::TenantFile;
use allot_store::records::User;
use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::load::{bench_user, fresh_store, partner_token, start_server_with};
use super::{BENCH_APP, BENCH_TENANT, EMS, Scratch};

const PBI: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";
const ADMIN_KEY: &str = "bench-admin-key";
/// The page budget of issue #19: server time of a page view on a 100,000-user tenant.
const BUDGET: Duration = Duration::from_millis(300);

/// One request of a page view: its path (under the server), the token kind, and headers.
#[derive(Clone, Copy)]
enum Auth {
    Graph,
    Partner,
    Admin,
}

struct Call {
    method: reqwest::Method,
    path: String,
    auth: Auth,
    eventual: bool,
    body: Option<Value>,
}

fn get(path: impl Into<String>) -> Call {
    Call {
        method: reqwest::Method::GET,
        path: path.into(),
        auth: Auth::Graph,
        eventual: false,
        body: None,
    }
}

fn counted(path: impl Into<String>) -> Call {
    Call {
        eventual: true,
        ..get(path)
    }
}

fn with(auth: Auth, path: impl Into<String>) -> Call {
    Call { auth, ..get(path) }
}

struct Tokens {
    graph: String,
    partner: String,
}

/// Sends `calls` in order; every one must succeed. Returns the JSON of each answer.
async fn view(
    client: &reqwest::Client,
    base: &str,
    tokens: &Tokens,
    calls: &[Call],
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::with_capacity(calls.len());
    for c in calls {
        let mut r = client.request(c.method.clone(), format!("{base}{}", c.path));
        r = match c.auth {
            Auth::Graph => r.bearer_auth(&tokens.graph),
            Auth::Partner => r.bearer_auth(&tokens.partner),
            Auth::Admin => r.header("x-allot-admin-key", ADMIN_KEY),
        };
        if c.eventual {
            r = r.header("ConsistencyLevel", "eventual");
        }
        if let Some(b) = &c.body {
            r = r.json(b);
        }
        let resp = r.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{} {} answered {status}: {text}", c.method, c.path);
        }
        out.push(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    Ok(out)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) async fn console(users: usize, runs: usize, database_url: Option<&str>) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let (url, store) = fresh_store(&scratch, database_url).await?;
    // The tenant: every user in "Everyone" (EMS for all), the first 60 in "Overflow"
    // (POWER_BI_PRO with 10 units: 50 members in error, waiting), a partner with a relationship.
    let file = TenantFile::parse(&format!(
        "tenants:\n  - displayName: Bench\n    defaultDomain: {BENCH_TENANT}\n    subscriptions: [{{sku: EMS, enabled: {users}}}, {{sku: POWER_BI_PRO, enabled: 10}}]\n    apps:\n      - clientId: {BENCH_APP}\n        displayName: bench\n        clientSecret: bench\n        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All, LicenseAssignment.ReadWrite.All, AuditLog.Read.All]\n    groups:\n      - displayName: Everyone\n      - displayName: Overflow\n  - displayName: Bench partner\n    defaultDomain: partner.bench.example\n    apps:\n      - clientId: be9c0000-0000-4000-8000-000000000002\n        displayName: bench partner\n        clientSecret: bench\n        delegatedScopes: [user_impersonation]\n    users:\n      - userPrincipalName: agent@partner.bench.example\n        displayName: Agent\n        password: bench\n    customers:\n      - tenant: {BENCH_TENANT}\n        roles: [Directory Readers, User Administrator, License Administrator]\n"
    ))?;
    store.apply_tenant_file(&file).await?;
    let def = &file.tenants[0];
    let tenant = def.tenant_id();
    let (everyone, overflow) = (def.group_id(&def.groups[0]), def.group_id(&def.groups[1]));
    let all: Vec<User> = (0..users).map(|i| bench_user(tenant, i)).collect();
    store.bulk_insert_users(&all).await?;
    let ids: Vec<_> = all.iter().map(|u| u.id).collect();
    store.bulk_add_members(tenant, everyone, &ids).await?;
    store
        .bulk_add_members(tenant, overflow, &ids[..60.min(ids.len())])
        .await?;
    store.db().close().await;
    println!("allot bench console: {users} users on {url}, {runs} views per page");

    let (base, graph_token, stop) = start_server_with(&scratch, &url, |c| {
        c.admin_key = Some(ADMIN_KEY.into());
    })
    .await?;
    let tokens = Tokens {
        partner: partner_token(&base).await?,
        graph: graph_token,
    };
    let client = reqwest::Client::new();
    // Group licenses through the API (their fan-outs and audit records), then 100 direct
    // assignments (over the group's) for the audit log the History page draws from.
    let setup = Instant::now();
    for (group, sku) in [(everyone, EMS), (overflow, PBI)] {
        let mut c = get(format!("/v1.0/groups/{group}/assignLicense"));
        c.method = reqwest::Method::POST;
        c.body = Some(json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}));
        view(&client, &base, &tokens, &[c]).await?;
        loop {
            let v = view(
                &client,
                &base,
                &tokens,
                &[get(format!(
                    "/v1.0/groups/{group}?$select=licenseProcessingState"
                ))],
            )
            .await?;
            if v[0]["licenseProcessingState"]["state"] == "ProcessingComplete" {
                break;
            }
            if setup.elapsed() > Duration::from_secs(600) {
                bail!("the fan-outs did not complete in 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for id in ids.iter().skip(100).take(100) {
        let mut c = get(format!("/v1.0/users/{id}/assignLicense"));
        c.method = reqwest::Method::POST;
        c.body = Some(json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}));
        view(&client, &base, &tokens, &[c]).await?;
    }
    println!(
        "set up (2 fan-outs, 100 direct assignments) in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    if url.starts_with("postgres") && std::env::var_os("ALLOT_BENCH_ANALYZE").is_some() {
        // PostgreSQL plans from the statistics autovacuum gathers some time after a bulk load.
        let store = allot_store::Store::connect(&url).await?;
        store.analyze().await?;
        println!("statistics gathered (ANALYZE)");
    }

    let since = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ");
    let allotments = view(
        &client,
        &base,
        &tokens,
        &[get("/beta/admin/cloudLicensing/allotments?$select=id,skuId")],
    )
    .await?[0]["value"]
        .clone();
    let allotment_ids: Vec<String> = allotments
        .as_array()
        .context("allotments")?
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();
    let customers = view(&client, &base, &tokens, &[with(Auth::Partner, "/v1/customers")]).await?;
    let cid = customers[0]["items"][0]["id"]
        .as_str()
        .context("customer")?
        .to_owned();
    let pc_users = view(
        &client,
        &base,
        &tokens,
        &[with(Auth::Partner, format!("/v1/customers/{cid}/users?size=20"))],
    )
    .await?;
    let pc_user_ids: Vec<String> = pc_users[0]["items"]
        .as_array()
        .context("customer users")?
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    let user_select = "$select=id,displayName,userPrincipalName,licenseAssignmentStates";
    let history_filter = enc(&format!(
        "activityDisplayName in ('Update user','Group license processing completed') and activityDateTime ge {since}"
    ));
    let search = enc("(startswith(displayName,'User 9999') or startswith(userPrincipalName,'User 9999'))");
    let by_product = enc(&format!("assignedLicenses/any(x:x/skuId eq {PBI})"));
    let batch: Vec<Value> = ids
        .iter()
        .rev()
        .take(20)
        .enumerate()
        .map(|(n, id)| {
            json!({"id": (n + 1).to_string(), "method": "POST", "url": format!("/users/{id}/assignLicense"),
            "headers": {"content-type": "application/json"},
            "body": {"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}})
        })
        .collect();

    let mut pages: Vec<(&str, Vec<Call>)> = Vec::new();
    let mut products = vec![
        get("/v1.0/subscribedSkus"),
        get("/beta/admin/cloudLicensing/allotments?$select=id,skuId"),
    ];
    products.extend(allotment_ids.iter().map(|a| {
        counted(format!(
            "/beta/admin/cloudLicensing/allotments/{a}/waitingMembers/$count"
        ))
    }));
    pages.push(("Products", products));
    pages.push((
        "Products: details of EMS (plans, first 20 holders with their groups)",
        vec![
            get(format!(
                "/v1.0/users?$filter={}&{user_select}&$top=20",
                enc(&format!("assignedLicenses/any(x:x/skuId eq {EMS})"))
            )),
            get(format!("/v1.0/groups/{everyone}?$select=displayName")),
        ],
    ));
    pages.push((
        "Users: first 50",
        vec![
            get("/v1.0/subscribedSkus"),
            get(format!("/v1.0/users?{user_select}&$top=50")),
        ],
    ));
    pages.push((
        "Users: search by name",
        vec![get(format!("/v1.0/users?{user_select}&$top=50&$filter={search}"))],
    ));
    pages.push((
        "Users: search by product held",
        vec![get(format!(
            "/v1.0/users?{user_select}&$top=50&$filter={by_product}"
        ))],
    ));
    pages.push((
        "Users: bulk assign to 20 selected ($batch) and redraw",
        vec![
            Call {
                method: reqwest::Method::POST,
                body: Some(json!({"requests": batch})),
                ..get("/v1.0/$batch")
            },
            get(format!("/v1.0/users?{user_select}&$top=50")),
        ],
    ));
    pages.push((
        "Groups: list with member counts",
        vec![
            get("/v1.0/groups?$select=id,displayName,assignedLicenses,licenseProcessingState&$top=50"),
            counted(format!("/v1.0/groups/{everyone}/members/$count")),
            counted(format!("/v1.0/groups/{overflow}/members/$count")),
        ],
    ));
    pages.push((
        "Groups: open Everyone (timeline, first 50 members)",
        vec![
            get(format!(
                "/v1.0/auditLogs/directoryAudits?$top=20&$filter={}",
                enc(&format!("targetResources/any(t: t/id eq '{everyone}')"))
            )),
            get(format!("/v1.0/groups/{everyone}/members?{user_select}&$top=50")),
        ],
    ));
    let mut errors = vec![
        get("/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true&$select=id,displayName"),
        get(format!(
            "/v1.0/groups/{overflow}/membersWithLicenseErrors?{user_select}"
        )),
        get(
            "/beta/admin/cloudLicensing/allotments?$select=id,skuId,skuPartNumber,allottedUnits,consumedUnits",
        ),
    ];
    errors.extend(allotment_ids.iter().map(|a| {
        get(format!(
            "/beta/admin/cloudLicensing/allotments/{a}/waitingMembers?$expand=assignedTo&$top=50"
        ))
    }));
    pages.push(("Errors and waiting rooms", errors));
    pages.push((
        "History (chart from the audit log, activity list)",
        vec![
            get("/v1.0/subscribedSkus"),
            get(format!(
                "/v1.0/auditLogs/directoryAudits?$top=999&$filter={history_filter}"
            )),
            get("/v1.0/auditLogs/directoryAudits?$top=50"),
        ],
    ));
    let mut partner = vec![
        with(Auth::Partner, "/v1/customers"),
        with(Auth::Partner, format!("/v1/customers/{cid}/subscribedskus")),
        with(Auth::Partner, format!("/v1/customers/{cid}/users?size=20")),
    ];
    partner.extend(
        pc_user_ids
            .iter()
            .map(|u| with(Auth::Partner, format!("/v1/customers/{cid}/users/{u}/licenses"))),
    );
    pages.push(("Partner: open a customer (SKUs, 20 users with licenses)", partner));
    pages.push((
        "Emulator",
        vec![
            with(Auth::Admin, format!("/_allot/tenants/{BENCH_TENANT}/processing")),
            with(Auth::Admin, format!("/_allot/tenants/{BENCH_TENANT}/throttle")),
            get("/v1.0/subscribedSkus"),
            with(
                Auth::Admin,
                format!("/_allot/tenants/{BENCH_TENANT}/subscriptions"),
            ),
        ],
    ));

    println!();
    println!("| page view | requests | median ms | slowest ms | budget 300 ms |");
    println!("|---|---|---|---|---|");
    let mut missed = 0;
    for (name, calls) in &pages {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            view(&client, &base, &tokens, calls).await?;
            times.push(t.elapsed());
        }
        times.sort_unstable();
        if std::env::var_os("ALLOT_BENCH_EACH").is_some() {
            // Each request of the view once more, alone: where a slow page spends its time.
            for c in calls {
                let t = Instant::now();
                view(&client, &base, &tokens, std::slice::from_ref(c)).await?;
                println!("    {:.1} ms  {}", t.elapsed().as_secs_f64() * 1000.0, c.path);
            }
        }
        let (median, slowest) = (times[times.len() / 2], times[times.len() - 1]);
        let met = median < BUDGET;
        missed += usize::from(!met);
        println!(
            "| {name} | {} | {:.1} | {:.1} | {} |",
            calls.len(),
            median.as_secs_f64() * 1000.0,
            slowest.as_secs_f64() * 1000.0,
            if met { "met" } else { "NOT met" }
        );
    }
    let _ = stop.send(());
    println!();
    println!(
        "budget (issue #19): every page under 300 ms of server time on a {users}-user tenant ({}): {}",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if missed == 0 {
            "met".to_owned()
        } else {
            format!("NOT met on {missed} pages")
        }
    );
    Ok(())
}
