//! Racing writes on PostgreSQL, one node and two (and SQLite, one node): add-member against delete-user pairs, and
//! rounds of mixed operations from Graph, beta cloudLicensing and Partner Center at once. After
//! each round the licensing work settles and `allot check` must find nothing wrong.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use allot_core::ids::TenantId;
use allot_core::tenant_file::TenantFile;
use allot_store::Backend;
use allot_store::records::User;
use allot_store::testkit::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// What the concurrent tasks share: the nodes' base URLs and the two tokens.
#[derive(Clone)]
struct Caller {
    client: reqwest::Client,
    bases: Vec<String>,
    graph: String,
    pc: String,
}

impl Caller {
    /// A Graph (`/v1.0`, `/beta`) request through node `node` (modulo the node count).
    async fn graph(&self, node: usize, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.send(node, method, path, &self.graph, body).await
    }

    /// A Partner Center request on the demo customer through node `node`.
    async fn pc(&self, node: usize, method: Method, path: &str, body: Option<Value>) -> Resp {
        let path = format!("/v1/customers/{DEMO_TENANT}{path}");
        self.send(node, method, &path, &self.pc, body).await
    }

    async fn send(&self, node: usize, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let base = &self.bases[node % self.bases.len()];
        let mut req = self
            .client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("send")).await
    }
}

/// The demo tenant plus `extra` plain users, on a fresh PostgreSQL schema served by `nodes`
/// `allot serve` processes (each with its own licensing worker).
struct World {
    db: TestDb,
    _nodes: Vec<Node>,
    caller: Caller,
    users: Vec<String>,
}

impl World {
    async fn start(backend: Backend, nodes: usize, extra: usize) -> Option<Self> {
        let db = TestDb::fresh(backend).await.expect("database")?;
        with_test_key(&db).await;
        db.store.apply_tenant_file(&TenantFile::demo()).await.unwrap();
        let tenant = TenantId::from_uuid(DEMO_TENANT.parse().unwrap());
        let users: Vec<User> = (0..extra)
            .map(|i| {
                User::new(
                    tenant,
                    format!("race{i:03}@contoso.example"),
                    format!("Race {i}"),
                    Some("US".into()),
                )
            })
            .collect();
        db.store.bulk_insert_users(&users).await.unwrap();
        let nodes: Vec<Node> = (0..nodes).map(|_| Node::start(&db.url, 0)).collect();
        let client = http();
        let bases: Vec<String> = nodes.iter().map(|n| n.1.clone()).collect();
        let graph = node_token(&client, &bases[0], "contoso.example", DEMO_APP, DEMO_SECRET).await;
        let r = client
            .post(format!("{}/partner.example/oauth2/v2.0/token", bases[0]))
            .form(&[
                ("grant_type", "password"),
                ("client_id", PARTNER_APP),
                ("client_secret", PARTNER_SECRET),
                ("username", "admin@partner.example"),
                ("password", DEMO_PASSWORD),
                ("scope", PC_SCOPE),
            ])
            .send()
            .await
            .unwrap();
        let pc = read(r).await.ok()["access_token"].as_str().unwrap().to_owned();
        Some(Self {
            db,
            _nodes: nodes,
            caller: Caller {
                client,
                bases,
                graph,
                pc,
            },
            users: users.iter().map(|u| u.id.to_string()).collect(),
        })
    }

    /// A security group holding `skus`, made through Graph; returns its id.
    async fn licensed_group(&self, name: &str, skus: &[&str]) -> String {
        let g = self
            .caller
            .graph(
                0,
                Method::POST,
                "/v1.0/groups",
                Some(json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true})),
            )
            .await
            .ok()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if !skus.is_empty() {
            let add: Vec<Value> = skus
                .iter()
                .map(|s| json!({"skuId": s, "disabledPlans": []}))
                .collect();
            let r = self
                .caller
                .graph(
                    0,
                    Method::POST,
                    &format!("/v1.0/groups/{g}/assignLicense"),
                    Some(json!({"addLicenses": add, "removeLicenses": []})),
                )
                .await;
            assert_eq!(r.status, 202, "{}", r.text);
        }
        g
    }

    /// Waits until no licensing work is left, then runs `allot check`'s invariants; panics with
    /// the report when one fails.
    async fn settle_and_check(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.db.store.pending_jobs(None).await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "{what}: licensing work never settled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let report = self.db.store.check().await.unwrap();
        assert!(report.problems.is_empty(), "{what}: {:#?}", report.problems);
    }
}

fn bind(id: &str) -> String {
    format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")
}

/// 200 pairs, each adding a user to a licensed group (`members/$ref` or `members@odata.bind`)
/// while the same user is deleted (Graph or Partner Center), on different nodes when there are two.
async fn add_member_races_delete_user(backend: Backend, nodes: usize) {
    let Some(w) = World::start(backend, nodes, 200).await else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    let group = w.licensed_group("race", &[EMS]).await;
    let mut outcomes: BTreeMap<(u16, u16), usize> = BTreeMap::new();
    for (batch, ids) in w.users.chunks(20).enumerate() {
        let mut tasks = Vec::new();
        for (j, id) in ids.iter().enumerate() {
            let i = batch * 20 + j;
            let (c, group, id) = (w.caller.clone(), group.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let add = async {
                    if i % 2 == 0 {
                        let body = json!({"@odata.id": bind(&id)});
                        c.graph(
                            i,
                            Method::POST,
                            &format!("/v1.0/groups/{group}/members/$ref"),
                            Some(body),
                        )
                        .await
                    } else {
                        let body = json!({"members@odata.bind": [bind(&id)]});
                        c.graph(i, Method::PATCH, &format!("/v1.0/groups/{group}"), Some(body))
                            .await
                    }
                };
                let delete = async {
                    if i % 4 < 2 {
                        c.graph(i + 1, Method::DELETE, &format!("/v1.0/users/{id}"), None)
                            .await
                    } else {
                        c.pc(i + 1, Method::DELETE, &format!("/users/{id}"), None).await
                    }
                };
                let (a, d) = tokio::join!(add, delete);
                (a, d)
            }));
        }
        for t in tasks {
            let (a, d) = t.await.unwrap();
            assert_eq!(d.status, 204, "delete: {}", d.text);
            assert!(
                matches!(a.status.as_u16(), 204 | 404 | 400),
                "add: {} {}",
                a.status,
                a.text
            );
            *outcomes
                .entry((a.status.as_u16(), d.status.as_u16()))
                .or_default() += 1;
        }
    }
    eprintln!("add/delete outcomes on {nodes} node(s): {outcomes:?}");
    w.settle_and_check("after 200 add-member/delete-user races").await;
    let members = w
        .caller
        .graph(0, Method::GET, &format!("/v1.0/groups/{group}/members"), None)
        .await
        .ok();
    assert_eq!(members["value"], json!([]), "every racing user is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_member_races_delete_user_one_node() {
    add_member_races_delete_user(Backend::Postgres, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_member_races_delete_user_sqlite() {
    add_member_races_delete_user(Backend::Sqlite, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_member_races_delete_user_two_nodes() {
    add_member_races_delete_user(Backend::Postgres, 2).await;
}

/// A small deterministic generator (xorshift), so a failing round can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One random license-relevant operation, through a random surface and node.
async fn random_op(
    c: &Caller,
    seed: u64,
    users: &[String],
    groups: &[String],
    allotments: &[String],
) -> (String, Resp) {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let node = r.below(2);
    let user = &users[r.below(users.len())];
    let group = &groups[r.below(groups.len())];
    let sku = [EMS, PBI, E1, E3][r.below(4)];
    let licenses = |add: bool| {
        if add {
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
        } else {
            json!({"addLicenses": [], "removeLicenses": [sku]})
        }
    };
    let op = r.below(15);
    let (what, resp) = match op {
        0 => (
            "add member ($ref)",
            c.graph(
                node,
                Method::POST,
                &format!("/v1.0/groups/{group}/members/$ref"),
                Some(json!({"@odata.id": bind(user)})),
            )
            .await,
        ),
        1 => (
            "add member (bind)",
            c.graph(
                node,
                Method::PATCH,
                &format!("/v1.0/groups/{group}"),
                Some(json!({"members@odata.bind": [bind(user)]})),
            )
            .await,
        ),
        2 | 3 => (
            "remove member",
            c.graph(
                node,
                Method::DELETE,
                &format!("/v1.0/groups/{group}/members/{user}/$ref"),
                None,
            )
            .await,
        ),
        4 => (
            "delete user (Graph)",
            c.graph(node, Method::DELETE, &format!("/v1.0/users/{user}"), None)
                .await,
        ),
        5 => (
            "delete user (Partner Center)",
            c.pc(node, Method::DELETE, &format!("/users/{user}"), None).await,
        ),
        6 | 7 => (
            "restore user (Partner Center)",
            c.pc(
                node,
                Method::PATCH,
                &format!("/users/{user}"),
                Some(json!({"state": "active"})),
            )
            .await,
        ),
        8 => (
            "assignLicense (user)",
            c.graph(
                node,
                Method::POST,
                &format!("/v1.0/users/{user}/assignLicense"),
                Some(licenses(r.below(3) > 0)),
            )
            .await,
        ),
        9 => {
            let body = if r.below(3) > 0 {
                json!({"LicensesToAssign": [{"SkuId": sku, "ExcludedPlans": null}]})
            } else {
                json!({"LicensesToRemove": [sku]})
            };
            (
                "licenseupdates (Partner Center)",
                c.pc(
                    node,
                    Method::POST,
                    &format!("/users/{user}/licenseupdates"),
                    Some(body),
                )
                .await,
            )
        }
        10 => (
            "assignLicense (group)",
            c.graph(
                node,
                Method::POST,
                &format!("/v1.0/groups/{group}/assignLicense"),
                Some(licenses(r.below(2) > 0)),
            )
            .await,
        ),
        11 => {
            let allotment = &allotments[r.below(allotments.len())];
            let body = json!({
                "allotment@odata.bind": format!("https://graph.microsoft.com/beta/admin/cloudLicensing/allotments/{allotment}"),
                "assignedTo@odata.bind": format!("https://graph.microsoft.com/beta/users/{user}"),
            });
            (
                "cloudLicensing assignment create",
                c.graph(
                    node,
                    Method::POST,
                    "/beta/admin/cloudLicensing/assignments",
                    Some(body),
                )
                .await,
            )
        }
        12 => {
            let location = ["US", "GB", "FR"][r.below(3)];
            (
                "usageLocation",
                c.graph(
                    node,
                    Method::PATCH,
                    &format!("/v1.0/users/{user}"),
                    Some(json!({"usageLocation": location})),
                )
                .await,
            )
        }
        13 => (
            "reprocessLicenseAssignment",
            c.graph(
                node,
                Method::POST,
                &format!("/v1.0/users/{user}/reprocessLicenseAssignment"),
                None,
            )
            .await,
        ),
        _ => {
            let mates: Vec<String> = (0..3).map(|_| bind(&users[r.below(users.len())])).collect();
            let name = format!("mixed{seed}");
            (
                "create group with members",
                c.graph(
                    node,
                    Method::POST,
                    "/v1.0/groups",
                    Some(
                        json!({"displayName": name, "mailEnabled": false, "mailNickname": name,
                        "securityEnabled": true, "members@odata.bind": mates}),
                    ),
                )
                .await,
            )
        }
    };
    (format!("{what} [op {op}, seed {seed}]"), resp)
}

/// 20 rounds of 40 concurrent operations, mixed across Graph, beta cloudLicensing and Partner
/// Center, spread over two nodes, on 40 users and four groups (three licensed, one with five
/// units only); `allot check` after every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_surface_rounds_on_two_nodes() {
    let Some(w) = World::start(Backend::Postgres, 2, 40).await else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    let groups = vec![
        w.licensed_group("mixed-ems", &[EMS]).await,
        w.licensed_group("mixed-pbi", &[PBI]).await,
        w.licensed_group("mixed-e3", &[E3, EMS]).await,
        w.licensed_group("mixed-none", &[]).await,
    ];
    let allotments: Vec<String> = w
        .caller
        .graph(0, Method::GET, "/beta/admin/cloudLicensing/allotments", None)
        .await
        .ok()["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| [EMS, PBI, E1].contains(&a["skuId"].as_str().unwrap_or_default()))
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(allotments.len(), 3);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for round in 0..20u64 {
        let mut tasks = Vec::new();
        for k in 0..40u64 {
            let (c, users, groups, allotments) = (
                w.caller.clone(),
                w.users.clone(),
                groups.clone(),
                allotments.clone(),
            );
            tasks.push(tokio::spawn(async move {
                random_op(&c, round * 1000 + k + 1, &users, &groups, &allotments).await
            }));
        }
        for t in tasks {
            let (what, resp) = t.await.unwrap();
            assert!(
                resp.status.as_u16() < 500,
                "round {round}, {what}: {} {}",
                resp.status,
                resp.text
            );
            *statuses.entry(resp.status.as_u16()).or_default() += 1;
        }
        w.settle_and_check(&format!("after mixed round {round}")).await;
    }
    eprintln!("mixed rounds, answers by status: {statuses:?}");
}
