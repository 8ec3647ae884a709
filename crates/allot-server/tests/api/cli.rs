//! The `allot` binary as a person runs it: help, migrate, seed, serve, token.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use allot_store::Backend;
use allot_store::testkit::TestDb;

use crate::helpers::*;

fn allot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_allot"))
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `allot serve` with `args` on an ephemeral port and waits for its banner.
fn serve(args: &[&str]) -> (Server, Vec<String>) {
    let mut child = allot()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn allot serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let mut base = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read banner") == 0 {
            panic!("allot serve exited: {lines:?}");
        }
        if let Some(rest) = line.strip_prefix("Allot is listening on ") {
            base = rest.trim().to_owned();
        }
        let last = line.starts_with("Press Ctrl-C to stop.");
        lines.push(line.trim_end().to_owned());
        if last {
            break;
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    (Server(child, base), lines)
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run allot");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help() {
    for sub in [&[][..], &["serve"], &["token"], &["seed"], &["migrate"]] {
        let (ok, out, _) = run(allot().args(sub).arg("--help"));
        assert!(ok, "{sub:?}");
        assert!(out.contains("Usage:"), "{out}");
    }
}

#[test]
fn migrate_and_seed_are_idempotent() {
    let dir = TempDir::new();
    let d = dir.0.to_str().unwrap();
    let (ok, out, err) = run(allot().args(["migrate", "--data-dir", d]));
    assert!(ok, "{err}");
    assert!(out.contains("database is up to date"), "{out}");
    let file = dir.0.join("t.yaml");
    std::fs::write(&file, "tenants:\n  - displayName: S\n    defaultDomain: s.example\n    users: [{userPrincipalName: a@s.example, displayName: A}]\n").unwrap();
    let (ok, out, err) = run(allot().args(["seed", file.to_str().unwrap(), "--data-dir", d]));
    assert!(ok, "{err}");
    assert!(out.contains("2 created"), "{out}");
    let (ok, out, _) = run(allot().args(["seed", file.to_str().unwrap(), "--data-dir", d]));
    assert!(ok);
    assert!(out.contains("0 created, 0 updated, 2 unchanged"), "{out}");
    std::fs::write(&file, "tenants: [{displayName: S}]").unwrap();
    let (ok, _, err) = run(allot().args(["seed", file.to_str().unwrap(), "--data-dir", d]));
    assert!(!ok);
    assert!(err.contains("defaultDomain"), "{err}");
    let (ok, _, err) = run(allot().args(["migrate", "--database-url", "mysql://x/y"]));
    assert!(!ok);
    assert!(err.contains("sqlite://PATH or postgres://"), "{err}");
}

async fn serve_then_token_then_subscribed_skus(db_args: Vec<String>) {
    let args: Vec<&str> = db_args.iter().map(String::as_str).collect();
    let (server, banner) = serve(&args);
    let text = banner.join("\n");
    for needle in [
        "/v1.0",
        "oauth2/v2.0/token",
        DEMO_APP,
        DEMO_SECRET,
        "allot token",
        "Admin key",
    ] {
        assert!(text.contains(needle), "banner lacks {needle}: {text}");
    }
    let (ok, token, err) = run(allot().arg("token").args(&args));
    assert!(ok, "{err}");
    let token = token.trim();
    assert_eq!(token.lines().count(), 1);
    assert_eq!(token.split('.').count(), 3);
    let client = http();
    let r = read(
        client
            .get(format!("{}/v1.0/subscribedSkus", server.1))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let v = r.ok();
    let e3 = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuPartNumber"] == "ENTERPRISEPACK")
        .unwrap()
        .clone();
    assert_eq!(
        (
            e3["consumedUnits"].as_i64(),
            e3["prepaidUnits"]["enabled"].as_i64()
        ),
        (Some(12), Some(25))
    );
    // A delegated token for the admin works on /me.
    let (ok, user_token, err) = run(allot()
        .args(["token", "--user", "admin@contoso.example"])
        .args(&args));
    assert!(ok, "{err}");
    let r = read(
        client
            .get(format!("{}/v1.0/me", server.1))
            .bearer_auth(user_token.trim())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.ok()["userPrincipalName"], "admin@contoso.example");
    // The demo partner's App+User token, exactly as the README prints the command.
    let (ok, pc_token, err) = run(allot()
        .args([
            "token",
            "--tenant",
            "partner.example",
            "--user",
            "admin@partner.example",
            "--scope",
            "https://api.partnercenter.microsoft.com/user_impersonation",
        ])
        .args(&args));
    assert!(ok, "{err}");
    let c = claims(pc_token.trim());
    assert_eq!(
        (c["aud"].as_str(), c["scp"].as_str()),
        (
            Some("https://api.partnercenter.microsoft.com"),
            Some("user_impersonation")
        )
    );
    let r = read(
        client
            .get(format!("{}/v1/customers", server.1))
            .bearer_auth(pc_token.trim())
            .send()
            .await
            .unwrap(),
    )
    .await;
    let v = r.ok();
    assert_eq!(v["items"][0]["companyProfile"]["domain"], "contoso.example");
    let (ok, _, err) = run(allot().args(["token", "--tenant", "nowhere.example"]).args(&args));
    assert!(!ok && err.contains("no tenant"), "{err}");
    // SIGTERM stops the server cleanly.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut server = server;
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_fresh_directory_then_token_then_curl_sqlite() {
    let dir = TempDir::new();
    let args = vec!["--data-dir".to_owned(), dir.0.to_str().unwrap().to_owned()];
    serve_then_token_then_subscribed_skus(args).await;
    assert!(dir.0.join("admin-key").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_fresh_database_then_token_then_curl_postgres() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await.unwrap() else {
        eprintln!("skipped: ALLOT_TEST_PG_URL is not set");
        return;
    };
    serve_then_token_then_subscribed_skus(vec!["--database-url".to_owned(), db.url.clone()]).await;
}

/// A reqwest client that trusts only `ca` (a PEM file), as a Python or Node client told to by
/// `SSL_CERT_FILE`/`NODE_EXTRA_CA_CERTS` does.
fn trusting(ca: &str) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("CA file");
    allot_server::tls::install_crypto();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client")
}

async fn demo_token(client: &reqwest::Client, base: &str) -> String {
    let r = read(
        client
            .post(format!("{base}/{DEMO_TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token request"),
    )
    .await;
    r.ok()["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tls_on_a_fresh_directory_prints_the_ca_and_serves_both_listeners() {
    let dir = TempDir::new();
    let data = dir.0.to_str().unwrap().to_owned();
    let (server, banner) = serve(&["--data-dir", &data, "--tls", "--tls-listen", "127.0.0.1:0"]);
    let find = |prefix: &str| -> String {
        banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' in {banner:?}"))
            .trim()
            .to_owned()
    };
    let https = find("HTTPS:").split_whitespace().next().unwrap().to_owned();
    let ca = find("CA file:");
    assert!(https.starts_with("https://localhost:"), "{https}");
    assert_eq!(ca, dir.0.join("tls").join("ca.pem").to_str().unwrap());
    let text = banner.join("\n");
    assert!(
        text.contains(&format!("SSL_CERT_FILE={ca}")) && text.contains(&format!("NODE_EXTRA_CA_CERTS={ca}")),
        "{text}"
    );

    // HTTPS, trusting only the printed CA: a token, then a Graph read whose links are https.
    let tls = trusting(&ca);
    let token = demo_token(&tls, &https).await;
    let v = read(
        tls.get(format!("{https}/v1.0/users?$top=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    let next = v["@odata.nextLink"].as_str().expect("a next page");
    assert!(next.starts_with(&format!("{https}/v1.0/users?")), "{next}");
    assert!(v["@odata.context"].as_str().unwrap().starts_with(&https));
    // Plain HTTP beside it, as without --tls.
    let plain = http();
    let token = demo_token(&plain, &server.1).await;
    let r = read(
        plain
            .get(format!("{}/v1.0/subscribedSkus", server.1))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(r.ok()["@odata.context"].as_str().unwrap().starts_with("http://"));
    // A client that does not trust the CA is refused by its own TLS check.
    let strict = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(
        strict
            .get(format!("{https}/v1.0/subscribedSkus"))
            .send()
            .await
            .is_err()
    );
    drop(server);

    // A restart keeps the CA: clients keep trusting the same file.
    let ca_before = std::fs::read(&ca).unwrap();
    let (server, _) = serve(&["--data-dir", &data, "--tls", "--tls-listen", "127.0.0.1:0"]);
    assert_eq!(std::fs::read(&ca).unwrap(), ca_before);
    drop(server);

    // Your own certificate and key: here the chain Allot issued, served as a file pair.
    let (server, banner) = serve(&[
        "--data-dir",
        &data,
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        dir.0.join("tls/server.pem").to_str().unwrap(),
        "--tls-key",
        dir.0.join("tls/server-key.pem").to_str().unwrap(),
    ]);
    assert!(!banner.iter().any(|l| l.contains("CA file:")), "{banner:?}");
    let https = banner
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("HTTPS:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let token = demo_token(&tls, &https).await;
    assert_eq!(token.split('.').count(), 3);
    drop(server);
}

#[test]
fn serve_without_tls_prints_no_https_listener() {
    let dir = TempDir::new();
    let (server, banner) = serve(&["--data-dir", dir.0.to_str().unwrap()]);
    assert!(
        !banner
            .iter()
            .any(|l| l.contains("HTTPS") || l.contains("CA file")),
        "{banner:?}"
    );
    assert!(!dir.0.join("tls").exists());
    drop(server);
}
