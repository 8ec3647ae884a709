//! `allot bench fairness`: one quiet client's `subscribedSkus` latency alone, then while noisy
//! clients loop expensive queries (`$search` with `$count` over 999-item pages), with the
//! fairness limits on (the defaults) and off (limits out of reach), on one running server each.

use std::time::Duration;

use super::load::{Load, bench_tenant, drive, start_server_with};
use super::{Scratch, rate};

const QUIET: &str = "/v1.0/subscribedSkus";
const NOISY: &str = "/v1.0/users?$search=%22displayName:User%22&$count=true&$top=999";

fn request(
    base: &str,
    token: &str,
    path: &'static str,
) -> impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static {
    let (url, token) = (format!("{base}{path}"), token.to_owned());
    move |c: &reqwest::Client, _| {
        c.get(&url)
            .bearer_auth(&token)
            .header("ConsistencyLevel", "eventual")
    }
}

pub(super) async fn fairness(users: usize, noisy: usize, seconds: Duration) -> anyhow::Result<()> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("allot-bench-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&scratch.0)?;
    let (url, store, _, _) = bench_tenant(&scratch, users, users, None).await?;
    store.db().close().await;
    println!(
        "allot bench fairness: {users} users, {noisy} noisy connections looping `{NOISY}`, one quiet client on `{QUIET}`, {} s each",
        seconds.as_secs()
    );
    println!(
        "| limits | quiet alone p50 / p99 ms | quiet under load p50 / p99 ms | quiet requests under load | noisy req/s | noisy 429s |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, off) in [("fairness on (defaults)", false), ("fairness off", true)] {
        let (base, token, stop) = start_server_with(&scratch, &url, |c| {
            if off {
                c.expensive_per_caller = 1_000_000;
                c.expensive_total = 1_000_000;
            }
        })
        .await?;
        let alone = drive(1, seconds, usize::MAX, 200, request(&base, &token, QUIET)).await;
        let load = tokio::spawn(drive(
            noisy,
            seconds + Duration::from_secs(1),
            usize::MAX,
            200,
            request(&base, &token, NOISY),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let under = drive(1, seconds, usize::MAX, 200, request(&base, &token, QUIET)).await;
        let load: Load = load.await?;
        println!(
            "| {label} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {:.0} | {} |",
            alone.percentile(0.5),
            alone.percentile(0.99),
            under.percentile(0.5),
            under.percentile(0.99),
            under.requests,
            rate(load.requests, seconds + Duration::from_secs(1)),
            load.errors
        );
        let _ = stop.send(());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
