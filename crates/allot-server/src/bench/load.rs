//! The HTTP load scenarios of `allot bench`: license reads against a same-bytes minimal server,
//! direct assignment against sequential single-row commits, and start-up time and memory.

use std::time::{Duration, Instant};

use allot_core::ids::UserId;
use allot_core::tenant_file::TenantFile;
use allot_store::Store;
use allot_store::records::User;
use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{BENCH_APP, BENCH_TENANT, EMS, Scratch, rate};
use crate::app::Application;
use crate::config::Config;

/// The database a scenario runs on, migrated: `database_url` (PostgreSQL, say; it must hold no
/// tenant yet), or a fresh SQLite file in the scratch directory.
pub(super) async fn fresh_store(
    scratch: &Scratch,
    database_url: Option<&str>,
) -> anyhow::Result<(String, Store)> {
    let url = database_url.map_or_else(
        || format!("sqlite://{}", scratch.0.join("allot.db").display()),
        str::to_owned,
    );
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    if !store.tenants().await?.is_empty() {
        bail!("the benchmark needs an empty database ({url} has tenants)");
    }
    Ok((url, store))
}

/// A fresh database ([`fresh_store`]) with the bench tenant (EMS with `units` units) and `n`
/// users (usage location US), loaded through the store.
pub(super) async fn bench_tenant(
    scratch: &Scratch,
    n: usize,
    units: usize,
    database_url: Option<&str>,
) -> anyhow::Result<(String, Store, TenantFile, Vec<UserId>)> {
    let (url, store) = fresh_store(scratch, database_url).await?;
    let file = TenantFile::parse(&format!(
        "tenants:\n  - displayName: Bench\n    defaultDomain: {BENCH_TENANT}\n    subscriptions: [{{sku: EMS, enabled: {units}}}]\n    apps:\n      - clientId: {BENCH_APP}\n        displayName: bench\n        clientSecret: bench\n        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All]\n    groups:\n      - displayName: Everyone\n  - displayName: Bench partner\n    defaultDomain: {BENCH_PARTNER}\n    apps:\n      - clientId: {BENCH_PARTNER_APP}\n        displayName: bench partner\n        clientSecret: bench\n        delegatedScopes: [user_impersonation]\n    users:\n      - userPrincipalName: agent@{BENCH_PARTNER}\n        displayName: Agent\n        password: bench\n    customers:\n      - tenant: {BENCH_TENANT}\n        roles: [License Administrator]\n"
    ))?;
    store.apply_tenant_file(&file).await?;
    let tenant = file.tenants[0].tenant_id();
    let users: Vec<User> = (0..n).map(|i| bench_user(tenant, i)).collect();
    store.bulk_insert_users(&users).await?;
    let ids = users.iter().map(|u| u.id).collect();
    Ok((url, store, file, ids))
}

/// One bench user, `user{i}@bench.example`, with a usage location (shared by every scenario).
pub(super) fn bench_user(tenant: allot_core::ids::TenantId, i: usize) -> User {
    User::new(
        tenant,
        format!("user{i:07}@{BENCH_TENANT}"),
        format!("User {i}"),
        Some("US".into()),
    )
}

/// The bench partner (a Partner Center partner of the bench tenant) and its app.
const BENCH_PARTNER: &str = "partner.bench.example";
const BENCH_PARTNER_APP: &str = "be9c0000-0000-4000-8000-000000000002";

/// An App+User Partner Center token of the bench partner's agent.
pub(super) async fn partner_token(base: &str) -> anyhow::Result<String> {
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/{BENCH_PARTNER}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", BENCH_PARTNER_APP),
            ("client_secret", "bench"),
            ("username", &format!("agent@{BENCH_PARTNER}")),
            ("password", "bench"),
            (
                "scope",
                "https://api.partnercenter.microsoft.com/user_impersonation",
            ),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(token["access_token"]
        .as_str()
        .context("no partner token")?
        .to_owned())
}

/// The server in-process on a loopback port; returns its base URL, a token and a stop handle.
pub(super) async fn start_server(
    scratch: &Scratch,
    url: &str,
) -> anyhow::Result<(String, String, tokio::sync::oneshot::Sender<()>)> {
    start_server_with(scratch, url, |_| {}).await
}

/// [`start_server`] with a configuration `configure` adjusts.
pub(super) async fn start_server_with(
    scratch: &Scratch,
    url: &str,
    configure: impl FnOnce(&mut Config),
) -> anyhow::Result<(String, String, tokio::sync::oneshot::Sender<()>)> {
    let mut config = Config::for_data_dir(scratch.0.clone());
    config.database_url = Some(url.to_owned());
    config.no_demo = true;
    configure(&mut config);
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let token = bench_token(&base).await?;
    Ok((base, token, stop_tx))
}

/// The bench app's app-only Graph token from the server at `base`.
pub(super) async fn bench_token(base: &str) -> anyhow::Result<String> {
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/{BENCH_TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", BENCH_APP),
            ("client_secret", "bench"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(token["access_token"].as_str().context("no token")?.to_owned())
}

#[derive(Default)]
pub(super) struct Load {
    pub(super) requests: usize,
    pub(super) errors: usize,
    elapsed: Duration,
    micros: Vec<u64>,
}

impl Load {
    pub(super) fn percentile(&self, p: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a sorted sample"
        )]
        let i = (((self.micros.len() - 1) as f64) * p).round() as usize;
        #[expect(clippy::cast_precision_loss, reason = "milliseconds for a report")]
        let ms = self.micros[i] as f64 / 1000.0;
        ms
    }
}

/// `connections` tasks on one keep-alive client send `request(i)` until `limit` requests or
/// `duration` are done; every answer must be `expect`.
pub(super) async fn drive<F>(
    connections: usize,
    duration: Duration,
    limit: usize,
    expect: u16,
    request: F,
) -> Load
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap_or_default();
    let request = std::sync::Arc::new(request);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, request, next) = (
            client.clone(),
            std::sync::Arc::clone(&request),
            std::sync::Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut load = Load::default();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= limit || start.elapsed() >= duration {
                    break;
                }
                let t = Instant::now();
                let ok = match request(&client, i).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.bytes().await.is_ok() && status == expect
                    }
                    Err(_) => false,
                };
                load.micros
                    .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                load.requests += 1;
                if !ok {
                    load.errors += 1;
                }
            }
            load
        }));
    }
    let mut total = Load::default();
    for t in tasks {
        if let Ok(l) = t.await {
            total.requests += l.requests;
            total.errors += l.errors;
            total.micros.extend(l.micros);
        }
    }
    total.elapsed = start.elapsed();
    total.micros.sort_unstable();
    total
}

fn print_load_table(rows: &[(String, Load, f64)]) {
    println!("| scenario | requests | req/s | p50 ms | p99 ms | p99.9 ms | errors | ratio to ceiling |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, l, ceiling) in rows {
        let rps = rate(l.requests, l.elapsed);
        let ratio = if *ceiling > 0.0 {
            format!("{:.2}", rps / ceiling)
        } else {
            "(ceiling)".into()
        };
        println!(
            "| {name} | {} | {rps:.0} | {:.2} | {:.2} | {:.2} | {} | {ratio} |",
            l.requests,
            l.percentile(0.5),
            l.percentile(0.99),
            l.percentile(0.999),
            l.errors
        );
    }
}

/// A server with no middleware that answers every GET with `body` (the same bytes Allot sent).
async fn ceiling_server(
    body: bytes_body::Body,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().fallback(move || {
        let b = body.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, crate::graph::JSON_CONTENT_TYPE)],
                b.0,
            )
        }
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok((base, tx))
}

mod bytes_body {
    #[derive(Clone)]
    pub struct Body(pub axum::body::Bytes);
}

pub(super) async fn reads(
    users: usize,
    connections: usize,
    seconds: Duration,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let (url, store, file, ids) = bench_tenant(&scratch, users, users, database_url).await?;
    // License everyone through the group, processed before the measurement.
    let def = &file.tenants[0];
    let (tenant, group) = (def.tenant_id(), def.group_id(&def.groups[0]));
    store.bulk_add_members(tenant, group, &ids).await?;
    let ems = allot_core::ids::SkuId::parse(EMS)?;
    let change = allot_core::licensing::LicenseChange {
        add: vec![allot_core::licensing::AddLicense {
            sku: ems,
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    store.assign_group_licenses(tenant, group, &change).await?;
    crate::worker::Worker::new(store.clone())
        .drain(None, true)
        .await?;
    if std::env::var_os("ALLOT_BENCH_ANALYZE").is_some() {
        // PostgreSQL plans from the statistics autovacuum gathers some time after a bulk load.
        store.analyze().await?;
    }
    store.db().close().await;
    println!(
        "allot bench reads: {users} licensed users, {connections} connections, {} s each",
        seconds.as_secs()
    );
    let (base, token, stop) = start_server(&scratch, &url).await?;
    let pc_token = partner_token(&base).await?;
    let customer = file.tenants[0].tenant_id();
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    let ids = std::sync::Arc::new(ids);
    // Each scenario: a name, the path for request i, and the token it is sent with.
    type PathFn = std::sync::Arc<dyn Fn(usize) -> String + Send + Sync>;
    let scenarios: Vec<(&str, PathFn, String)> = vec![
        (
            "licenseDetails",
            {
                let ids = std::sync::Arc::clone(&ids);
                std::sync::Arc::new(move |i| {
                    format!("/v1.0/users/{}/licenseDetails", ids[(i * 7919) % ids.len()])
                })
            },
            token.clone(),
        ),
        (
            "subscribedSkus",
            std::sync::Arc::new(|_| "/v1.0/subscribedSkus".to_owned()),
            token.clone(),
        ),
        (
            "Partner Center licenses",
            {
                let ids = std::sync::Arc::clone(&ids);
                std::sync::Arc::new(move |i| {
                    format!(
                        "/v1/customers/{customer}/users/{}/licenses",
                        ids[(i * 7919) % ids.len()]
                    )
                })
            },
            pc_token,
        ),
    ];
    for (name, path, tok) in scenarios {
        let sample_path = path(0);
        let body = client
            .get(format!("{base}{sample_path}"))
            .bearer_auth(&tok)
            .send()
            .await?
            .bytes()
            .await?;
        let (cbase, cstop) = ceiling_server(bytes_body::Body(body)).await?;
        let cpath = sample_path.clone();
        let ceiling = drive(connections, seconds, usize::MAX, 200, move |c, _| {
            c.get(format!("{cbase}{cpath}"))
        })
        .await;
        let _ = cstop.send(());
        let b = base.clone();
        let real = drive(connections, seconds, usize::MAX, 200, move |c, i| {
            c.get(format!("{b}{}", path(i))).bearer_auth(&tok)
        })
        .await;
        let c_rps = rate(ceiling.requests, ceiling.elapsed);
        rows.push((
            format!("ceiling: same bytes, minimal server ({name})"),
            ceiling,
            0.0,
        ));
        rows.push((format!("GET {name}"), real, c_rps));
    }
    let _ = stop.send(());
    println!();
    print_load_table(&rows);
    Ok(())
}

pub(super) async fn assign(
    users: usize,
    connections: usize,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let (url, store, _file, ids) = bench_tenant(&scratch, users, users, database_url).await?;
    let ceiling_time = store.bench_single_commits(users.min(20_000)).await?;
    let ceiling = rate(users.min(20_000), ceiling_time);
    store.db().close().await;
    println!("allot bench assign: {users} users, {connections} connections");
    let (base, token, stop) = start_server(&scratch, &url).await?;
    let ids = std::sync::Arc::new(ids);
    let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []});
    let load = drive(connections, Duration::from_secs(600), users, 200, move |c, i| {
        c.post(format!("{base}/v1.0/users/{}/assignLicense", ids[i]))
            .bearer_auth(&token)
            .json(&body)
    })
    .await;
    let _ = stop.send(());
    println!();
    let ceiling_load = Load {
        requests: users.min(20_000),
        elapsed: ceiling_time,
        ..Load::default()
    };
    print_load_table(&[
        (
            "ceiling: single-row insert + commit, sequential, same rows".to_owned(),
            ceiling_load,
            0.0,
        ),
        ("POST assignLicense (durable commit)".to_owned(), load, ceiling),
    ]);
    Ok(())
}

pub(super) async fn startup(users: usize, groups: usize) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let load_start = Instant::now();
    let (url, store, file, ids) = bench_tenant(&scratch, users, users, None).await?;
    let tenant = file.tenants[0].tenant_id();
    let mut extra = String::from("tenants:\n");
    extra.push_str(&format!(
        "  - displayName: Bench\n    defaultDomain: {BENCH_TENANT}\n    groups:\n"
    ));
    for g in 0..groups {
        extra.push_str(&format!("      - {{displayName: group{g:05}}}\n"));
    }
    let gfile = TenantFile::parse(&extra)?;
    store.apply_tenant_file(&gfile).await?;
    let per = (ids.len() / groups.max(1)).max(1);
    for (g, def) in gfile.tenants[0].groups.iter().enumerate() {
        let gid = gfile.tenants[0].group_id(def);
        let start = (g * per) % ids.len().max(1);
        let end = (start + per).min(ids.len());
        store.bulk_add_members(tenant, gid, &ids[start..end]).await?;
    }
    store.db().close().await;
    println!(
        "loaded {users} users and {groups} groups in {:.1} s",
        load_start.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = std::process::Command::new(exe)
        .args([
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut base = String::new();
    {
        use std::io::BufRead as _;
        let mut reader = std::io::BufReader::new(stdout);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("allot serve exited during start-up");
            }
            if let Some(rest) = line.strip_prefix("Allot is listening on ") {
                base = rest.trim().to_owned();
            }
            if line.starts_with("Press Ctrl-C to stop.") {
                break;
            }
        }
        std::thread::spawn(move || for _ in reader.lines() {});
    }
    let client = reqwest::Client::new();
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let startup = started.elapsed();
    let token = bench_token(&base).await?;
    // Some work, so the peak covers serving: pages of users, groups, licenses.
    for path in [
        "/v1.0/users?$top=999&$select=id,assignedLicenses",
        "/v1.0/groups?$top=999",
        "/v1.0/subscribedSkus",
    ] {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map_or("?".to_owned(), |l| l[name.len()..].trim().to_owned())
    };
    let (hwm, rss) = (field("VmHWM:"), field("VmRSS:"));
    let _ = child.kill();
    let _ = child.wait();
    println!();
    println!(
        "| scenario | users | groups | start-up (spawn to /readyz 200) | peak RSS (VmHWM) | RSS after requests |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| allot serve on SQLite | {users} | {groups} | {:.3} s | {hwm} | {rss} |",
        startup.as_secs_f64()
    );
    Ok(())
}
