//! `allot bench filter`: the first page of
//! `GET /users?$filter=assignedLicenses/any(x:x/skuId eq …)&$count=true&$top=999` with
//! `ConsistencyLevel: eventual` on a large tenant (budget: < 50 ms, docs/design.md §6), and the
//! same query's two halves (the page alone, `/users/$count` alone) to show where the time goes.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

use super::load::{bench_tenant, start_server};
use super::{EMS, Scratch};

/// Budget for the first page with `$count`.
const BUDGET: Duration = Duration::from_millis(50);

pub(super) async fn filter(users: usize, licensed: usize, requests: usize) -> anyhow::Result<()> {
    if licensed == 0 || licensed > users {
        bail!("--licensed must be between 1 and --users");
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let loading = Instant::now();
    let (url, store, file, ids) = bench_tenant(&scratch, users, licensed, None).await?;
    // Every (users / licensed)-th user holds EMS, through the group, processed before measuring.
    let def = &file.tenants[0];
    let (tenant, group) = (def.tenant_id(), def.group_id(&def.groups[0]));
    let step = users / licensed;
    let members: Vec<_> = ids.iter().step_by(step).take(licensed).copied().collect();
    store.bulk_add_members(tenant, group, &members).await?;
    let change = allot_core::licensing::LicenseChange {
        add: vec![allot_core::licensing::AddLicense {
            sku: allot_core::ids::SkuId::parse(EMS)?,
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    store.assign_group_licenses(tenant, group, &change).await?;
    crate::worker::Worker::new(store.clone())
        .drain(None, true)
        .await?;
    store.db().close().await;
    println!(
        "allot bench filter: {users} users, {} holding EMS, loaded in {:.1} s; {requests} sequential requests each",
        members.len(),
        loading.elapsed().as_secs_f64()
    );
    let (base, token, stop) = start_server(&scratch, &url).await?;
    let client = reqwest::Client::new();
    let filter = format!("assignedLicenses/any(x:x/skuId eq {EMS})");
    let cases = [
        (
            "first page with $count ($top=999)",
            format!("/v1.0/users?$filter={filter}&$count=true&$top=999&$select=id,displayName"),
            true,
        ),
        (
            "first page without $count ($top=999)",
            format!("/v1.0/users?$filter={filter}&$top=999&$select=id,displayName"),
            false,
        ),
        (
            "/users/$count only",
            format!("/v1.0/users/$count?$filter={filter}"),
            false,
        ),
    ];
    println!();
    println!("| query | requests | p50 | p99 | max | budget |");
    println!("|---|---|---|---|---|---|");
    for (name, path, check_count) in cases {
        let mut times = Vec::with_capacity(requests);
        // One warm-up request, not measured (first use of the connection and statement cache).
        for i in 0..=requests {
            let started = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .header("ConsistencyLevel", "eventual")
                .send()
                .await?;
            let status = r.status();
            let body = r.text().await?;
            let took = started.elapsed();
            if !status.is_success() {
                bail!("{name}: {status}: {body}");
            }
            if check_count {
                let v: Value = serde_json::from_str(&body)?;
                let n = v["@odata.count"].as_u64().unwrap_or_default();
                let page = v["value"].as_array().map_or(0, Vec::len);
                if n != members.len() as u64 || page != members.len().min(999) {
                    bail!(
                        "{name}: @odata.count {n} and {page} items, expected {}",
                        members.len()
                    );
                }
            }
            if i > 0 {
                times.push(took);
            }
        }
        times.sort();
        let pct = |p: f64| {
            let i = ((times.len() as f64 - 1.0) * p).round() as usize;
            times[i.min(times.len() - 1)]
        };
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let budget = if check_count {
            format!("< 50 ms: {}", if pct(0.5) < BUDGET { "met" } else { "MISSED" })
        } else {
            "-".to_owned()
        };
        println!(
            "| {name} | {requests} | {} | {} | {} | {budget} |",
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(times[times.len() - 1])
        );
    }
    let _ = stop.send(());
    Ok(())
}
