//! Crash safety: a server killed with SIGKILL in the middle of a 20,000-member fan-out finishes
//! it after restart, with every member licensed exactly once.

use std::time::{Duration, Instant};

use allot_core::ids::{GroupId, UserId};
use allot_core::tenant_file::TenantFile;
use allot_store::Backend;
use allot_store::records::User;
use allot_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::helpers::*;

const MEMBERS: usize = 20_000;
const FILE: &str = r"
tenants:
  - displayName: Big
    defaultDomain: big.example
    subscriptions: [{sku: EMS, enabled: 25000}]
    apps:
      - clientId: b1600000-0000-4000-8000-000000000001
        displayName: big
        clientSecret: s
        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All]
    groups:
      - displayName: Everyone
";

async fn state(client: &reqwest::Client, base: &str, t: &str, g: GroupId) -> Value {
    let v = read(
        client
            .get(format!("{base}/v1.0/groups/{g}?$select=licenseProcessingState"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    v["licenseProcessingState"]["state"].clone()
}

async fn killed_mid_fan_out_finishes_after_restart(backend: Backend) {
    let Some(db) = TestDb::fresh(backend).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    let file = TenantFile::parse(FILE).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let def = &file.tenants[0];
    let tenant = def.tenant_id();
    let group = def.group_id(&def.groups[0]);
    let users: Vec<User> = (0..MEMBERS)
        .map(|i| {
            User::new(
                tenant,
                format!("u{i:05}@big.example"),
                format!("U{i}"),
                (i % 2 == 0).then(|| "US".to_owned()),
            )
        })
        .collect();
    db.store.bulk_insert_users(&users).await.unwrap();
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    db.store.bulk_add_members(tenant, group, &ids).await.unwrap();

    let client = http();
    let node = Node::start(&db.url, 150);
    let t = node_token(
        &client,
        &node.1,
        "big.example",
        "b1600000-0000-4000-8000-000000000001",
        "s",
    )
    .await;
    let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []});
    let r = read(
        client
            .post(format!("{}/v1.0/groups/{group}/assignLicense", node.1))
            .bearer_auth(&t)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    // Wait until the fan-out is under way, then kill the node without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let c = first_sku_consumed(&client, &node.1, &t).await;
        if c >= 2000 {
            break c;
        }
        assert!(Instant::now() < deadline, "fan-out never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut node = node;
    node.0.kill().unwrap();
    node.0.wait().unwrap();
    assert!(
        seen < i64::try_from(MEMBERS).unwrap(),
        "killed before the end: {seen} of {MEMBERS}"
    );

    // Restart on the same database: the job is resumed (SQLite at once, PostgreSQL when the
    // dead node's lease expires) and completes.
    let node = Node::start(&db.url, 0);
    let t = node_token(
        &client,
        &node.1,
        "big.example",
        "b1600000-0000-4000-8000-000000000001",
        "s",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while state(&client, &node.1, &t, group).await != "ProcessingComplete" {
        assert!(Instant::now() < deadline, "fan-out did not finish after restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        first_sku_consumed(&client, &node.1, &t).await,
        i64::try_from(MEMBERS).unwrap()
    );
    // Every member exactly once: one row each from the group, all active.
    let all = db.store.assignments_for(tenant, &ids).await.unwrap();
    assert_eq!(all.len(), MEMBERS);
    assert!(
        all.values()
            .all(|rows| rows.len() == 1 && rows[0].state.holds_license())
    );
    assert_eq!(db.store.pending_jobs(Some(tenant)).await.unwrap(), 0);
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_20000_member_fan_out_sqlite() {
    killed_mid_fan_out_finishes_after_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_20000_member_fan_out_postgres() {
    killed_mid_fan_out_finishes_after_restart(Backend::Postgres).await;
}
