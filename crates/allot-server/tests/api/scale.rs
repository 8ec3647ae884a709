//! Scale-out: several nodes on one PostgreSQL database, `allot check`, and the ops endpoints.

use std::process::Command;
use std::time::{Duration, Instant};

use allot_core::ids::UserId;
use allot_core::tenant_file::TenantFile;
use allot_store::Backend;
use allot_store::records::User;
use allot_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

fn tenant_file(users: usize, units: usize) -> String {
    let mut list = String::new();
    for i in 0..users {
        list.push_str(&format!(
            "      - {{userPrincipalName: n{i:04}@scale.example, displayName: N{i}, usageLocation: US}}\n"
        ));
    }
    format!(
        "tenants:\n  - displayName: Scale\n    defaultDomain: scale.example\n    subscriptions: [{{sku: EMS, enabled: {units}}}]\n    apps:\n      - clientId: 5ca1e000-0000-4000-8000-000000000001\n        displayName: scale\n        clientSecret: s\n        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All]\n    users:\n{list}    groups:\n      - displayName: All\n"
    )
}

fn check(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_allot"))
        .args(["check", "--database-url", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_400_concurrent_assignments_for_100_units() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    db.store
        .apply_tenant_file(&TenantFile::parse(&tenant_file(400, 100)).unwrap())
        .await
        .unwrap();
    let (a, b) = (Node::start(&db.url, 0), Node::start(&db.url, 0));
    let client = http();
    // A token minted through node A is accepted by node B.
    let t = node_token(
        &client,
        &a.1,
        "scale.example",
        "5ca1e000-0000-4000-8000-000000000001",
        "s",
    )
    .await;
    assert_eq!(first_sku_consumed(&client, &b.1, &t).await, 0);
    let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []});
    let mut tasks = Vec::new();
    for i in 0..400 {
        let base = if i % 2 == 0 { a.1.clone() } else { b.1.clone() };
        let (client, t, body) = (client.clone(), t.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            read(
                client
                    .post(format!("{base}/v1.0/users/n{i:04}@scale.example/assignLicense"))
                    .bearer_auth(t)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        let r = task.await.unwrap();
        if r.status == 200 {
            ok += 1;
        } else {
            let msg = r.graph_error(400, "Request_BadRequest");
            assert!(msg.contains("does not have any available licenses"), "{msg}");
            refused += 1;
        }
    }
    assert_eq!((ok, refused), (100, 300));
    assert_eq!(first_sku_consumed(&client, &a.1, &t).await, 100);
    assert_eq!(first_sku_consumed(&client, &b.1, &t).await, 100);
    let (passed, report) = check(&db.url);
    assert!(passed, "{report}");
    assert!(report.contains("all invariants hold"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_node_finishes_a_fan_out_when_the_holder_dies() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    let file = TenantFile::parse(&tenant_file(0, 25_000)).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let def = &file.tenants[0];
    let (tenant, group) = (def.tenant_id(), def.group_id(&def.groups[0]));
    let users: Vec<User> = (0..20_000)
        .map(|i| {
            User::new(
                tenant,
                format!("big{i:05}@scale.example"),
                format!("B{i}"),
                Some("US".into()),
            )
        })
        .collect();
    db.store.bulk_insert_users(&users).await.unwrap();
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    db.store.bulk_add_members(tenant, group, &ids).await.unwrap();

    let client = http();
    // A long pause after each chunk: the test must catch the holder between two steps even on a
    // loaded machine (with a short one it could see the fan-out finish first).
    let a = Node::start(&db.url, 4000);
    let b = Node::start(&db.url, 4000);
    let names = [&a, &b].map(|n| {
        let url = format!("{}/healthz", n.1);
        (n.1.clone(), url)
    });
    let mut node_ids = Vec::new();
    for (_, url) in &names {
        let v: Value = read(client.get(url).send().await.unwrap()).await.ok();
        node_ids.push(v["node"].as_str().unwrap().to_owned());
    }
    let t = node_token(
        &client,
        &a.1,
        "scale.example",
        "5ca1e000-0000-4000-8000-000000000001",
        "s",
    )
    .await;
    let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []});
    let r = read(
        client
            .post(format!("{}/v1.0/groups/{group}/assignLicense", a.1))
            .bearer_auth(&t)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    // Find the node that holds the job once it has done part of the work, and kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = loop {
        let leases = db.job_leases().await.unwrap();
        let owner = leases.first().and_then(|(_, o)| o.clone());
        let c = first_sku_consumed(&client, &a.1, &t).await;
        if let Some(o) = owner.filter(|_| c > 0) {
            break o;
        }
        assert!(Instant::now() < deadline, "the fan-out never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (mut victim, survivor) = if holder == node_ids[0] { (a, b) } else { (b, a) };
    assert!(node_ids.contains(&holder), "holder {holder} is one of the nodes");
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();
    let done_before = first_sku_consumed(&client, &survivor.1, &t).await;
    assert!(done_before < 20_000, "killed mid-way: {done_before}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = read(
            client
                .get(format!(
                    "{}/v1.0/groups/{group}?$select=licenseProcessingState",
                    survivor.1
                ))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap(),
        )
        .await
        .ok();
        if v["licenseProcessingState"]["state"] == "ProcessingComplete" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the surviving node did not finish the fan-out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first_sku_consumed(&client, &survivor.1, &t).await, 20_000);
    let all = db.store.assignments_for(tenant, &ids).await.unwrap();
    assert!(
        all.len() == 20_000
            && all
                .values()
                .all(|rows| rows.len() == 1 && rows[0].state.holds_license())
    );
    let (passed, report) = check(&db.url);
    assert!(passed, "{report}");
}

async fn check_finds_a_corrupted_row(backend: Backend) {
    let Some(db) = TestDb::fresh(backend).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    db.store.apply_tenant_file(&TenantFile::demo()).await.unwrap();
    let (passed, report) = check(&db.url);
    assert!(passed, "{report}");
    // Corrupt one pool by hand: its count no longer matches the users holding the SKU.
    let n = db
        .execute("UPDATE sku_pools SET consumed = consumed + 3 WHERE consumed = 12")
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (passed, report) = check(&db.url);
    assert!(!passed, "{report}");
    assert!(
        report.contains("consumedUnits is 15 but 12 users hold the SKU"),
        "{report}"
    );
    // And an assignment whose source group is gone.
    db.execute("UPDATE sku_pools SET consumed = consumed - 3 WHERE consumed = 15")
        .await
        .unwrap();
    db.execute("DELETE FROM group_members").await.unwrap();
    let (passed, _) = check(&db.url);
    assert!(passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allot_check_fails_on_a_corrupted_row_sqlite() {
    check_finds_a_corrupted_row(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allot_check_fails_on_a_corrupted_row_postgres() {
    check_finds_a_corrupted_row(Backend::Postgres).await;
}

e2e!(health_readiness_and_metrics, |app| {
    let v = read(app.client.get(app.url("/healthz")).send().await.unwrap())
        .await
        .ok();
    assert_eq!(v["status"], "ok");
    assert!(v["node"].as_str().unwrap().starts_with("allot-"));
    let v = read(app.client.get(app.url("/readyz")).send().await.unwrap())
        .await
        .ok();
    assert_eq!(v["status"], "ready");
    app.get("/v1.0/users?$top=1").await.ok();
    let r = read(app.client.get(app.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("allot_http_requests_total"), "{}", r.text);
    assert!(
        r.text.contains("route=\"/v1.0/users\""),
        "labelled by route template: {}",
        r.text
    );
    assert!(
        r.text.contains("allot_http_request_duration_seconds_bucket"),
        "{}",
        r.text
    );
    assert!(r.text.contains("allot_fanout_jobs_pending"), "{}", r.text);
});

/// A delta token is the round's state, not a node's: a round started on one node continues on
/// another, and after every node restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_tokens_work_on_any_node_and_after_restarts() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    let file = TenantFile::parse(&tenant_file(6, 10)).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let client = http();
    let app_id = "5ca1e000-0000-4000-8000-000000000001";
    let a = Node::start(&db.url, 0);
    let b = Node::start(&db.url, 0);
    let ta = node_token(&client, &a.1, "scale.example", app_id, "s").await;
    let get = |url: String, token: String| {
        let client = client.clone();
        async move {
            read(client.get(url).bearer_auth(token).send().await.unwrap())
                .await
                .ok()
        }
    };
    // First sync on node A.
    let first = get(
        format!("{}/v1.0/users/delta?$select=assignedLicenses", a.1),
        ta.clone(),
    )
    .await;
    assert_eq!(first["value"].as_array().unwrap().len(), 6);
    let link = first["@odata.deltaLink"].as_str().unwrap().to_owned();
    let token = link.split("$deltatoken=").nth(1).unwrap().to_owned();
    let user = first["value"][0]["id"].as_str().unwrap().to_owned();
    // A change through node B, the next round on node B.
    let tb = node_token(&client, &b.1, "scale.example", app_id, "s").await;
    let r = read(
        client
            .post(format!("{}/v1.0/users/{user}/assignLicense", b.1))
            .bearer_auth(&tb)
            .json(&json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = get(
        format!("{}/v1.0/users/delta?$deltatoken={token}", b.1),
        tb.clone(),
    )
    .await;
    assert_eq!(second["value"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["value"][0]["id"], user);
    assert_eq!(second["value"][0]["assignedLicenses"][0]["skuId"], EMS);
    let token = second["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .split("$deltatoken=")
        .nth(1)
        .unwrap()
        .to_owned();
    // Both nodes go; a new one takes the token after a change made while none ran.
    drop(a);
    drop(b);
    let other = file.tenants[0].users[1].user_principal_name.clone();
    let u = db
        .store
        .find_user(file.tenants[0].tenant_id(), &other)
        .await
        .unwrap()
        .unwrap();
    db.store
        .update_user(u.tenant_id, u.id, |u| {
            u.job_title = Some("Restarted".into());
            Ok(())
        })
        .await
        .unwrap();
    let c = Node::start(&db.url, 0);
    let tc = node_token(&client, &c.1, "scale.example", app_id, "s").await;
    let third = get(format!("{}/v1.0/users/delta?$deltatoken={token}", c.1), tc).await;
    let ids: Vec<&str> = third["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![u.id.to_string().as_str()], "{third}");
}
