//! Connection hygiene: clients that send half a request head, trickle a body or hold many
//! connections are cut off within the configured bounds while a normal client is served, and a
//! shutdown finishes within its bound whatever the clients do.

use std::time::{Duration, Instant};

use allot_store::Backend;
use allot_store::testkit::TestDb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::*;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection or `within` passes; returns what it sent and
/// when it closed.
async fn until_closed(mut s: TcpStream, within: Duration) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + within).into(), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), Some(start.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_and_slow_bodies_are_cut_off_while_others_are_served() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(2);
        c.body_read_timeout = Duration::from_secs(3);
    })
    .await
    .unwrap();
    let target = addr(&app);
    // 200 clients that stop in the middle of their request head.
    let mut heads = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(&target).await.unwrap();
        s.write_all(b"GET /v1.0/subscribedSkus HTTP/1.1\r\nHost: localhost\r\nAccept: appl")
            .await
            .unwrap();
        heads.push(tokio::spawn(until_closed(s, Duration::from_secs(10))));
    }
    // 50 clients that send a body one byte at a time, far too slowly.
    let mut bodies = Vec::new();
    for _ in 0..50 {
        let token = app.token.clone();
        let target = target.clone();
        bodies.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&target).await.unwrap();
            let head = format!(
                "POST /v1.0/groups HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            );
            s.write_all(head.as_bytes()).await.unwrap();
            let (mut r, mut w) = s.into_split();
            let trickle = tokio::spawn(async move {
                for _ in 0..20 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if w.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), r.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            trickle.abort();
            (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
        }));
    }
    // A normal client is served throughout.
    let normal = Instant::now();
    for _ in 0..10 {
        assert_eq!(app.get("/v1.0/subscribedSkus").await.status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(normal.elapsed() < Duration::from_secs(8));
    for h in heads {
        let (sent, closed) = h.await.unwrap();
        let closed = closed.expect("a half-sent head is closed");
        assert!(closed < Duration::from_secs(4), "closed after {closed:?}");
        assert!(!sent.contains("200 OK"), "{sent}");
    }
    for b in bodies {
        let (sent, took) = b.await.unwrap();
        assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
        assert!(sent.contains("Request_Timeout"), "{sent}");
        assert!(took < Duration::from_secs(6), "answered after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_answered_503_not_refused() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.max_connections = 5;
        c.header_read_timeout = Duration::from_secs(30);
    })
    .await
    .unwrap();
    let target = addr(&app);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(&target).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let extra = TcpStream::connect(&target).await.unwrap();
    let (sent, closed) = until_closed(extra, Duration::from_secs(5)).await;
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
    assert!(sent.to_ascii_lowercase().contains("retry-after: 1"), "{sent}");
    assert!(closed.is_some());
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.get("/v1.0/subscribedSkus").await.status, 200);
}

#[test]
fn the_default_bounds_are_within_thirty_seconds() {
    use allot_server::config::*;
    assert!(DEFAULT_HEADER_READ_TIMEOUT <= Duration::from_secs(30));
    assert!(DEFAULT_BODY_READ_TIMEOUT <= Duration::from_secs(30));
    assert!(DEFAULT_SHUTDOWN_TIMEOUT <= Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_half_sent_heads_and_bodies_open_finishes_within_ten_seconds() {
    let db = TestDb::fresh(Backend::Sqlite).await.unwrap().unwrap();
    with_test_key(&db).await;
    // Long head and body timeouts, so that only the shutdown bound can end these connections.
    let mut node = Node::start_with(
        &db.url,
        &[("ALLOT_HEADER_TIMEOUT", "120"), ("ALLOT_BODY_TIMEOUT", "120")],
    );
    let target = node.1.trim_start_matches("http://").to_owned();
    // 200 half-sent heads and 50 half-sent bodies, all held open.
    let mut open = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(&target).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
            .await
            .unwrap();
        open.push(s);
    }
    for _ in 0..50 {
        let mut s = TcpStream::connect(&target).await.unwrap();
        s.write_all(
            b"POST /v1.0/groups HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        open.push(s);
    }
    // A normal client is served while they wait.
    let health = http().get(format!("{}/healthz", node.1)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let pid = node.0.id().to_string();
    let start = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = loop {
        if let Some(status) = node.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "SIGTERM with 250 half-sent requests open: exited in {:?}",
        start.elapsed()
    );
    assert!(exited.success(), "{exited:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(open);
}
