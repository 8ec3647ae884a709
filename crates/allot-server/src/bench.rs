//! `allot bench`: measures the performance budgets of `docs/design.md` §6 on this machine, each
//! against a ceiling taken in the same run, and prints a table. Scenarios build their tenant
//! directly through the store, run the real server in-process on a loopback port, and drive it
//! over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use allot_core::ids::UserId;
use allot_core::tenant_file::TenantFile;
use allot_store::group_licensing::ProcessingMode;
use allot_store::records::User;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::app::Application;
use crate::config::Config;

mod console;
mod fairness;
mod filter;
mod load;

use load::{assign, reads, startup};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// License reads (`licenseDetails`, `subscribedSkus`) against a minimal server returning the
    /// same bytes, over loopback HTTP/1.1 keep-alive.
    Reads {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// An empty database to run on (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Direct `assignLicense` with durable commits, against sequential single-row commits of the
    /// same rows.
    Assign {
        #[arg(long, default_value_t = 20_000)]
        users: usize,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// An empty database to run on (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Start-up time and peak RSS of `allot serve` on a tenant of this size.
    Startup {
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        #[arg(long, default_value_t = 10_000)]
        groups: usize,
    },
    /// `$filter=assignedLicenses/any(x:x/skuId eq …)` with `$count=true`: latency of the first
    /// page (`$top=999`, `ConsistencyLevel: eventual`), and of its page and count halves.
    Filter {
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        /// Users holding the SKU filtered on (spread evenly over the id order).
        #[arg(long, default_value_t = 100_000)]
        licensed: usize,
        /// Measured requests per query.
        #[arg(long, default_value_t = 20)]
        requests: usize,
    },
    /// One client's `subscribedSkus` latency alone and while noisy clients loop expensive
    /// queries, with the fairness limits on and off.
    Fairness {
        #[arg(long, default_value_t = 3_060)]
        users: usize,
        /// Connections looping expensive queries.
        #[arg(long, default_value_t = 32)]
        noisy: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Server time of each console page view (the requests its page module sends, in order) on
    /// a tenant of this size, against the 300 ms budget of issue #19.
    Console {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// Views per page (the median is reported).
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// An empty database to run on (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Group fan-out of one SKU: time from the 202 of `group: assignLicense` to
    /// `ProcessingComplete`, against the raw insert rate of the same rows.
    Fanout {
        /// Members of the group.
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// An empty database to run on (default: a fresh SQLite file in a temporary directory).
        #[arg(long)]
        database_url: Option<String>,
    },
}

const BENCH_TENANT: &str = "bench.example";
const BENCH_APP: &str = "be9c0000-0000-4000-8000-000000000001";
const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";

struct Row {
    scenario: String,
    work: String,
    time: Duration,
    rate: f64,
    ceiling: f64,
}

fn print_table(rows: &[Row]) {
    println!("| scenario | work | time | rate (rows/s) | same-run ceiling (rows/s) | ratio to ceiling |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.3} s | {:.0} | {:.0} | {:.2} |",
            r.scenario,
            r.work,
            r.time.as_secs_f64(),
            r.rate,
            r.ceiling,
            if r.ceiling > 0.0 { r.rate / r.ceiling } else { 0.0 }
        );
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Fanout {
            members,
            database_url,
        } => fanout(members, database_url).await,
        Scenario::Reads {
            users,
            connections,
            seconds,
            database_url,
        } => {
            reads(
                users,
                connections,
                Duration::from_secs(seconds),
                database_url.as_deref(),
            )
            .await
        }
        Scenario::Assign {
            users,
            connections,
            database_url,
        } => assign(users, connections, database_url.as_deref()).await,
        Scenario::Startup { users, groups } => startup(users, groups).await,
        Scenario::Console {
            users,
            runs,
            database_url,
        } => console::console(users, runs, database_url.as_deref()).await,
        Scenario::Filter {
            users,
            licensed,
            requests,
        } => filter::filter(users, licensed, requests).await,
        Scenario::Fairness {
            users,
            noisy,
            seconds,
        } => fairness::fairness(users, noisy, Duration::from_secs(seconds)).await,
    }
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn fanout(members: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let (url, store) = load::fresh_store(&scratch, database_url.as_deref()).await?;
    println!("allot bench fanout: {members} members on {url}");

    // Ceiling: the raw rate of inserting the same rows in one transaction.
    let ceiling_time = store.bench_raw_insert(members).await?;
    let ceiling = rate(members, ceiling_time);

    // The tenant, loaded directly through the store.
    let load_start = Instant::now();
    let file = TenantFile::parse(&format!(
        "tenants:\n  - displayName: Bench\n    defaultDomain: {BENCH_TENANT}\n    subscriptions: [{{sku: EMS, enabled: {members}}}]\n    apps:\n      - clientId: {BENCH_APP}\n        displayName: bench\n        clientSecret: bench\n        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All]\n    groups:\n      - displayName: Everyone\n"
    ))?;
    store.apply_tenant_file(&file).await?;
    let def = &file.tenants[0];
    let tenant = def.tenant_id();
    let group = def.group_id(&def.groups[0]);
    let users: Vec<User> = (0..members).map(|i| load::bench_user(tenant, i)).collect();
    store.bulk_insert_users(&users).await?;
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    store.bulk_add_members(tenant, group, &ids).await?;
    println!(
        "loaded {members} users and memberships in {:.2} s",
        load_start.elapsed().as_secs_f64()
    );
    store.db().close().await;

    let mut config = Config::for_data_dir(scratch.0.clone());
    config.database_url = Some(url.clone());
    config.no_demo = true;
    config.processing_mode = Some(ProcessingMode::Async);
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let token = load::bench_token(&base).await?;

    let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []});
    let resp = client
        .post(format!("{base}/v1.0/groups/{group}/assignLicense"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await?;
    let accepted = Instant::now();
    if resp.status() != 202 {
        bail!(
            "assignLicense answered {}: {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    let state_url = format!("{base}/v1.0/groups/{group}?$select=licenseProcessingState");
    loop {
        let v: Value = client
            .get(&state_url)
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if v["licenseProcessingState"]["state"] == "ProcessingComplete" {
            break;
        }
        if accepted.elapsed() > Duration::from_secs(600) {
            bail!("fan-out did not complete in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = accepted.elapsed();
    let skus: Value = client
        .get(format!("{base}/v1.0/subscribedSkus"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let consumed = skus["value"][0]["consumedUnits"].as_u64().unwrap_or(0);
    let _ = stop_tx.send(());
    let _ = server.await;
    if consumed != members as u64 {
        bail!("consumedUnits is {consumed}, expected {members}");
    }
    println!();
    print_table(&[Row {
        scenario: "group fan-out, one SKU (202 to ProcessingComplete)".into(),
        work: format!("{members} members"),
        time: elapsed,
        rate: rate(members, elapsed),
        ceiling,
    }]);
    println!();
    println!(
        "budget (design.md §6): ProcessingComplete within 1 s of the 202 for 100,000 members: {:.3} s, {}",
        elapsed.as_secs_f64(),
        if members >= 100_000 && elapsed <= Duration::from_secs(1) {
            "met"
        } else if members >= 100_000 {
            "NOT met"
        } else {
            "not applicable at this size"
        }
    );
    Ok(())
}

#[expect(clippy::cast_precision_loss, reason = "a rate for a report")]
fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}
