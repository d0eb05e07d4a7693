//! The shared server on a real loopback socket: the auth matrix, request ids, JSON errors,
//! body caps, timeouts, header-read timeout and graceful shutdown.

// Helpers of this test crate unwrap too: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use lakehouse_common::config::Config;
use lakehouse_common::{AlwaysReady, ServiceContext, layers};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }
}

/// Serves a tiny app with `toml` as config: `/echo` (protected), `/slow` (sleeps 1 s, under
/// a 200 ms timeout), `/upload` (10-byte cap), `/long` (sleeps 800 ms, no extra timeout).
async fn start(toml: &str) -> Server {
    let loaded = Config::from_toml(toml, Path::new("t.toml"), &|_: &str| None).unwrap();
    let ctx = ServiceContext::new(
        "testsvc",
        "0.0.0",
        loaded.auth.clone(),
        Arc::new(AlwaysReady),
        &loaded.config.common,
    );
    let slow = layers::timeout(
        Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "late"
            }),
        ),
        Duration::from_millis(200),
    );
    let upload = layers::body_limit(
        Router::new().route(
            "/upload",
            post(|b: axum::body::Bytes| async move { b.len().to_string() }),
        ),
        10,
    );
    let routes = Router::new()
        .route("/echo", get(|| async { "hello" }))
        .route(
            "/long",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "finished"
            }),
        )
        .merge(slow)
        .merge(upload);
    let app = lakehouse_common::app(&ctx, routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let mut opts: lakehouse_common::ServeOptions = (&loaded.config.common).into();
    opts.header_read_timeout = Duration::from_millis(300);
    let done = tokio::spawn(async move {
        lakehouse_common::serve(listener, app, opts, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        addr,
        stop: Some(tx),
        done,
    }
}

async fn code(res: reqwest::Response) -> String {
    let v: Value = res.json().await.unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

async fn status(url: &str, authz: Option<&str>) -> StatusCode {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = authz {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn token_matrix() {
    let s = start("[auth]\ntoken = \"s3cret-token\"\n").await;
    let echo = s.url("/echo");
    let res = reqwest::get(&echo).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(res).await, "unauthorized");
    assert_eq!(
        status(&echo, Some("Bearer wrong")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&echo, Some("Bearer s3cret-tokenX")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&echo, Some("s3cret-token")).await,
        StatusCode::UNAUTHORIZED,
        "raw token without Bearer"
    );
    assert_eq!(
        status(&echo, Some("Basic s3cret-token")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&echo, Some("Bearer s3cret-token")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&echo, Some("bearer s3cret-token")).await,
        StatusCode::OK
    );
    // Public routes stay public; metrics does not.
    assert_eq!(status(&s.url("/health"), None).await, StatusCode::OK);
    assert_eq!(status(&s.url("/ready"), None).await, StatusCode::OK);
    assert_eq!(
        status(&s.url("/metrics"), None).await,
        StatusCode::UNAUTHORIZED
    );
    let m = reqwest::Client::new()
        .get(s.url("/metrics"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::OK);
    let text = m.text().await.unwrap();
    assert!(text.contains("lakehouse_http_requests_total{service=\"testsvc\",method=\"GET\",route=\"/echo\",status=\"401\"}"), "{text}");
    assert!(
        text.contains("lakehouse_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn allowlist_matrix() {
    // Denied: loopback is not in 10/8.
    let s = start("[auth]\nallowed_ips = [\"10.0.0.0/8\"]\n").await;
    let res = reqwest::get(s.url("/echo")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(res).await, "forbidden");
    assert_eq!(
        status(&s.url("/health"), None).await,
        StatusCode::OK,
        "health is public"
    );
    // Allowed: a bare IP means /32; a CIDR containing it.
    for list in [
        "[\"127.0.0.1\"]",
        "[\"127.0.0.0/8\"]",
        "[\"::1\", \"127.0.0.1/32\"]",
    ] {
        let s = start(&format!("[auth]\nallowed_ips = {list}\n")).await;
        assert_eq!(
            status(&s.url("/echo"), None).await,
            StatusCode::OK,
            "{list}"
        );
    }
    // A bare IP is exactly one host.
    let s = start("[auth]\nallowed_ips = [\"127.0.0.2\"]\n").await;
    assert_eq!(status(&s.url("/echo"), None).await, StatusCode::FORBIDDEN);
    // A bad entry is dropped, the good one still applies.
    let s = start("[auth]\nallowed_ips = [\"not-an-ip\", \"127.0.0.1\"]\n").await;
    assert_eq!(status(&s.url("/echo"), None).await, StatusCode::OK);
    let s = start("[auth]\nallowed_ips = [\"not-an-ip\", \"10.0.0.0/8\"]\n").await;
    assert_eq!(status(&s.url("/echo"), None).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn both_layers_apply() {
    let s = start("[auth]\ntoken = \"t0k\"\nallowed_ips = [\"127.0.0.1\"]\n").await;
    assert_eq!(
        status(&s.url("/echo"), None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(&s.url("/echo"), Some("Bearer t0k")).await,
        StatusCode::OK
    );
    let s = start("[auth]\ntoken = \"t0k\"\nallowed_ips = [\"10.1.1.1\"]\n").await;
    assert_eq!(
        status(&s.url("/echo"), Some("Bearer t0k")).await,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn allowlist_with_no_parseable_entry_refuses_to_load() {
    let e = Config::from_toml(
        "[auth]\nallowed_ips = [\"nope\", \"300.1.1.1\"]\n",
        Path::new("t"),
        &|_: &str| None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("auth.allowed_ips"), "{e}");
}

#[tokio::test]
async fn request_id_is_kept_or_generated_and_in_error_bodies() {
    let s = start("[auth]\ntoken = \"t\"\n").await;
    let res = reqwest::Client::new()
        .get(s.url("/echo"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "abc-123");
    let res = reqwest::get(s.url("/health")).await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    // Unsafe ids (spaces, too long) are replaced, not echoed.
    let res = reqwest::Client::new()
        .get(s.url("/health"))
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn framework_errors_are_json() {
    let s = start("").await;
    let res = reqwest::get(s.url("/nowhere")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(res).await, "not_found");
    let res = reqwest::Client::new()
        .delete(s.url("/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(res).await, "method_not_allowed");
    let res = reqwest::Client::new()
        .post(s.url("/upload"))
        .body("0123456789abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(res).await, "payload_too_large");
    let res = reqwest::Client::new()
        .post(s.url("/upload"))
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "10");
    let res = reqwest::get(s.url("/slow")).await.unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(code(res).await, "request_timeout");
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let s = start("").await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the headers: the server must close the connection (300 ms here).
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "connection stayed open with incomplete headers"
    );
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut s = start("").await;
    let long = tokio::spawn(reqwest::get(s.url("/long")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.stop.take().unwrap().send(()).unwrap();
    let res = long.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(5), s.done)
        .await
        .expect("serve returns after draining")
        .unwrap();
    // No longer accepting.
    assert!(
        reqwest::get(format!("http://{}/health", s.addr))
            .await
            .is_err()
    );
}
