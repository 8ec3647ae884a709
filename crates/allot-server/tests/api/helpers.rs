//! `TestApp`: one server per test, and a small HTTP client speaking to it.

use std::path::PathBuf;

use allot_server::app::Application;
use allot_server::config::Config;
use allot_server::state::AppState;
use allot_store::Backend;
use allot_store::testkit::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const DEMO_TENANT: &str = "5a1d0000-c0de-4c0e-a000-000000000001";
pub const DEMO_APP: &str = "5a1d0000-c0de-4a99-a000-00000000a001";
pub const DEMO_SECRET: &str = "allot-demo-secret";
pub const READONLY_APP: &str = "5a1d0000-c0de-4a99-a000-00000000a002";
pub const READONLY_SECRET: &str = "allot-readonly-secret";
pub const DEMO_PASSWORD: &str = "allot-demo-password";
pub const ADMIN_KEY: &str = "test-admin-key";
/// The demo partner's app and the Partner Center scope of its App+User tokens.
pub const PARTNER_APP: &str = "5a1d0000-c0de-4a99-a000-00000000a003";
pub const PARTNER_SECRET: &str = "allot-partner-secret";
pub const PC_SCOPE: &str = "https://api.partnercenter.microsoft.com/user_impersonation";

pub const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const E1: &str = "18181a46-0d4e-45cd-891e-60aabd171b4e";
pub const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";
pub const PBI: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";
pub const ARCHIVE: &str = "ee02fd1b-340e-4a4b-b355-4a514e4c8943";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The demo app's app-only Graph token.
    pub token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub db: TestDb,
    _dir: TempDir,
}

/// Stores the suite's fixed signing key in a fresh database, so that the server starting on it
/// finds a key instead of generating an RSA key of its own (which costs each test tens of
/// milliseconds). A test-only key: never used outside this suite.
pub async fn with_test_key(db: &TestDb) {
    const KEY: &str = include_str!("fixtures/test-signing-key.pkcs8.b64");
    db.store
        .insert_signing_key("allot-test-key", KEY.trim())
        .await
        .expect("test signing key");
}

/// A directory removed on drop.
/// An HTTP client for tests (with the process's TLS crypto in place, as `allot` sets it).
pub fn http() -> reqwest::Client {
    allot_server::tls::install_crypto();
    reqwest::Client::new()
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("allot-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One caller of one tenant on the test server: a bearer token and the requests it sends. The
/// demo app's calls (`TestApp::get`…), the cloud tenant's client and Partner Center calls all
/// go through it.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl Client<'_> {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.app
            .send_with(method, path, Some(&self.token), body, headers)
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a Graph error with this status and code; returns the message.
    #[track_caller]
    pub fn graph_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "body: {}", self.text);
        let inner = &v["error"]["innerError"];
        assert!(
            inner["request-id"].as_str().is_some_and(|s| !s.is_empty()),
            "{}",
            self.text
        );
        assert!(
            inner["date"].as_str().is_some_and(|s| s.len() == 19),
            "{}",
            self.text
        );
        assert!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json")),
            "{:?}",
            self.headers
        );
        v["error"]["message"].as_str().unwrap_or_default().to_owned()
    }

    #[track_caller]
    pub fn ok(&self) -> Value {
        assert!(self.status.is_success(), "status {}: {}", self.status, self.text);
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose configuration `configure` adjusts before it starts.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = TestDb::fresh(backend).await.expect("test database")?;
        with_test_key(&db).await;
        let dir = TempDir::new();
        let mut config = Config::for_data_dir(dir.0.clone());
        config.database_url = Some(db.url.clone());
        config.admin_key = Some(ADMIN_KEY.to_owned());
        config.max_body_bytes = 64 * 1024;
        configure(&mut config);
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let client = http();
        let mut me = Self {
            base,
            client,
            state,
            token: String::new(),
            shutdown: Some(tx),
            db,
            _dir: dir,
        };
        me.token = me.app_token(DEMO_APP, DEMO_SECRET).await;
        Some(me)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Resp {
        let r = self
            .client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .expect("send");
        read(r).await
    }

    pub async fn app_token(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .token_request(
                DEMO_TENANT,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        r.ok()["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn user_token_in(
        &self,
        tenant: &str,
        (client_id, secret): (&str, &str),
        upn: &str,
        password: &str,
    ) -> String {
        let r = self
            .token_request(
                tenant,
                &[
                    ("grant_type", "password"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("username", upn),
                    ("password", password),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        r.ok()["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn user_token(&self, upn: &str) -> String {
        self.user_token_in(DEMO_TENANT, (DEMO_APP, DEMO_SECRET), upn, DEMO_PASSWORD)
            .await
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.send_with(method, path, token, body, &[]).await
    }

    /// The one place a test request is built: bearer token, JSON body, extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("send")).await
    }

    /// A client of the server with `token`: how a test speaks as one caller of one tenant.
    pub fn as_caller(&self, token: impl Into<String>) -> Client<'_> {
        Client {
            app: self,
            token: token.into(),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.as_caller(&self.token).get(path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.as_caller(&self.token).post(path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.as_caller(&self.token).patch(path, body).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.as_caller(&self.token).delete(path).await
    }

    /// `consumedUnits` of a SKU in the demo tenant, through Graph.
    pub async fn consumed(&self, sku: &str) -> i64 {
        let v = self.get("/v1.0/subscribedSkus").await.ok();
        v["value"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["skuId"] == sku))
            .and_then(|s| s["consumedUnits"].as_i64())
            .unwrap_or_else(|| panic!("no SKU {sku}"))
    }

    /// Creates a user in the demo tenant (optionally with a usage location); returns its id.
    pub async fn create_user(&self, nick: &str, usage_location: Option<&str>) -> String {
        let mut body = json!({
            "accountEnabled": true,
            "displayName": nick,
            "mailNickname": nick,
            "userPrincipalName": format!("{nick}@contoso.example"),
            "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": DEMO_PASSWORD},
        });
        if let Some(l) = usage_location {
            body["usageLocation"] = json!(l);
        }
        let r = self.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()["id"].as_str().expect("id").to_owned()
    }

    /// Admin API request with the test admin key.
    pub async fn admin(&self, method: Method, path: &str, body: Option<String>) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("x-allot-admin-key", ADMIN_KEY);
        if let Some(b) = body {
            req = req.body(b);
        }
        read(req.send().await.expect("send")).await
    }

    /// Follows `@odata.nextLink` from `path`, collecting every item.
    pub async fn collect_all(&self, path: &str, token: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(self.url(path));
        while let Some(url) = next {
            let r = read(
                self.client
                    .get(&url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("send"),
            )
            .await;
            let v = r.ok();
            pages += 1;
            items.extend(v["value"].as_array().cloned().unwrap_or_default());
            next = v["@odata.nextLink"].as_str().map(str::to_owned);
            assert!(pages < 1000, "runaway paging");
        }
        (items, pages)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn read(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        text,
    }
}

/// Decodes a JWT's payload without checking it.
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// One async test body, run against a fresh server on SQLite and on PostgreSQL; `spawn = f`
/// starts the servers with `f(backend)` instead of `TestApp::spawn`.
#[macro_export]
macro_rules! e2e {
    ($name:ident, |$app:ident| $body:block) => {
        $crate::e2e!($name, spawn = $crate::helpers::TestApp::spawn, |$app| $body);
    };
    ($name:ident, spawn = $spawn:path, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $spawn(allot_store::Backend::Sqlite).await.expect("sqlite");
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $spawn(allot_store::Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("skipped: ALLOT_TEST_PG_URL is not set"),
                }
            }
        }
    };
}

/// `allot serve` as a child process on an ephemeral port (killed on drop).
pub struct Node(pub std::process::Child, pub String);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Node {
    /// Starts `allot serve --no-demo` on `url` with a fan-out step delay (fault injection) and
    /// waits for its banner.
    pub fn start(url: &str, delay_ms: u64) -> Self {
        Self::start_with(url, &[("ALLOT_FANOUT_STEP_DELAY_MS", &delay_ms.to_string())])
    }

    /// Starts `allot serve --no-demo` on `url` with these environment variables.
    pub fn start_with(url: &str, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_allot"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-demo",
                "--database-url",
                url,
            ])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn allot serve");
        let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut base = String::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).expect("banner") > 0, "server exited");
            if let Some(rest) = line.strip_prefix("Allot is listening on ") {
                base = rest.trim().to_owned();
            }
            if line.starts_with("Press Ctrl-C to stop.") {
                break;
            }
        }
        std::thread::spawn(move || for _ in reader.lines() {});
        Self(child, base)
    }
}

/// A client-credentials Graph token from a node's token endpoint.
pub async fn node_token(
    client: &reqwest::Client,
    base: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> String {
    let r = client
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    read(r).await.ok()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// `consumedUnits` of the tenant's first SKU, through a node.
pub async fn first_sku_consumed(client: &reqwest::Client, base: &str, token: &str) -> i64 {
    let v = read(
        client
            .get(format!("{base}/v1.0/subscribedSkus"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send"),
    )
    .await
    .ok();
    v["value"][0]["consumedUnits"].as_i64().expect("consumedUnits")
}
