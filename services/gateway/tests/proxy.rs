//! The gateway on real sockets in front of a real storaged (fs) and a recording upstream
//! mounted under a sub-path.

// Helpers of this test crate unwrap too: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::any;
use axum::{Json, Router};
use lakehouse_common::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const TOKEN: &str = "gateway-test-token";

async fn spawn(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = lakehouse_common::ServeOptions {
        header_read_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(1),
        max_connections: 256,
        tls: None,
    };
    tokio::spawn(lakehouse_common::serve(
        listener,
        app,
        opts,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

/// An upstream that answers with what it received; `/api/sql/slow` takes 2 s.
async fn recorder() -> String {
    async fn record(req: Request) -> Json<Value> {
        let slow = req.uri().path().ends_with("/slow");
        if slow {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let (parts, body) = req.into_parts();
        let h = |n: &str| {
            parts
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (method, path, query) = (
            parts.method.to_string(),
            parts.uri.path().to_owned(),
            parts.uri.query().map(str::to_owned),
        );
        let (authz, xff, rid, host, caller) = (
            h("authorization"),
            h("x-forwarded-for"),
            h("x-request-id"),
            h("x-forwarded-host"),
            h("x-lakehouse-client"),
        );
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Json(json!({
            "method": method, "path": path, "query": query, "authorization": authz,
            "x_forwarded_for": xff, "x_request_id": rid, "x_forwarded_host": host, "body_len": body.len(),
            "client": caller,
        }))
    }
    spawn(Router::new().route("/api/{*rest}", any(record))).await
}

async fn storaged(dir: &Path) -> String {
    let toml = format!(
        "[auth]\ntoken = \"{TOKEN}\"\naudit_log = \"\"\n[storaged]\nroot = {:?}\n",
        dir.to_str().unwrap()
    );
    let loaded = Config::from_toml(&toml, Path::new("t"), &|_: &str| None).unwrap();
    let store = lakehouse_storaged::build_store(&loaded.config.storaged, &|_: &str| None).unwrap();
    spawn(lakehouse_storaged::app(&loaded, store)).await
}

/// A closed port: bind, note the address, drop the listener.
async fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

async fn gateway(storaged: &str, recorder: &str, extra: &str) -> String {
    let toml = format!(
        "[auth]\ntoken = \"{TOKEN}\"\naudit_log = \"\"\n[gateway]\nstoraged_url = \"{storaged}\"\ncatalogd_url = \"{recorder}/api\"\n\
         queryd_url = \"{recorder}/api/\"\nvectord_url = \"{dead}\"\nupstream_timeout_ms = 500\n{extra}",
        dead = dead_url().await
    );
    let loaded = Config::from_toml(&toml, Path::new("t"), &|_: &str| None).unwrap();
    spawn(lakehouse_gateway::app(&loaded, &|_: &str| None).unwrap()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn sub_path_join_query_and_forwarded_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let res = client()
        .post(format!("{gw}/v1/catalog/manifest/a%2Fb%20c?x=1&y=%2F&z"))
        .bearer_auth(TOKEN)
        .header("x-request-id", "rid-gw-1")
        .header("x-forwarded-for", "203.0.113.9")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "rid-gw-1");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(
        v["path"], "/api/catalog/manifest/a%2Fb%20c",
        "escapes kept, /v1 stripped, base path joined"
    );
    assert_eq!(v["query"], "x=1&y=%2F&z");
    assert_eq!(v["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(v["x_forwarded_for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(v["x_request_id"], "rid-gw-1");
    assert_eq!(v["body_len"], 5);
    assert!(
        v["x_forwarded_host"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    // A base URL with a trailing slash joins the same way.
    let v: Value = client()
        .get(format!("{gw}/v1/sql/tables"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["path"], "/api/sql/tables");
    assert_eq!(v["query"], Value::Null);
}

/// One HTTP/1.1 request written byte for byte (HTTP client libraries normalise the path
/// before sending, which is the very thing under test): the status and the body.
async fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn escaped_dot_segments_go_upstream_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    // storaged decodes the key and refuses the dot segment; nothing is written at 'x'.
    for path in [
        "/v1/storage/objects/a/%2E%2E/x",
        "/v1/storage/objects/a/.%2e/x",
        "/v1/storage/objects/a/%2e/x",
    ] {
        let (status, body) = raw_request(&gw, "PUT", path, "", "evil").await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("invalid_key"), "{path}: {body}");
    }
    assert!(!dir.path().join("x").exists());
    assert!(!dir.path().join("a").exists());
    // The storage route never reaches storaged's own /metrics.
    let (status, body) = raw_request(
        &gw,
        "GET",
        "/v1/storage/objects/%2e%2e/%2e%2e/metrics",
        "",
        "",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("lakehouse_http_requests"), "{body}");
    // Other upstreams get the bytes exactly as sent.
    let (status, body) = raw_request(&gw, "GET", "/v1/catalog/manifest/%2E%2E/x", "", "").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["path"], "/api/catalog/manifest/%2E%2E/x");
}

#[tokio::test]
async fn only_the_gateway_names_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let v: Value = client()
        .get(format!("{gw}/v1/catalog/list"))
        .bearer_auth(TOKEN)
        .header("x-lakehouse-client", "someone-else")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["client"], "fleet", "{v}");
}

#[tokio::test]
async fn auth_is_enforced_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let res = client()
        .get(format!("{gw}/v1/storage/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = client()
        .get(format!("{gw}/v1/catalog/x"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    assert_eq!(
        client()
            .get(format!("{gw}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn objects_stream_through_to_storaged() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let data: Vec<u8> = (0..(20u32 << 20)).map(|i| (i % 241) as u8).collect();
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
        .chunks(1 << 20)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let res = client()
        .put(format!("{gw}/v1/storage/objects/big%2Fone%20file"))
        .bearer_auth(TOKEN)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["key"], "big/one file");
    assert_eq!(v["size"], 20 << 20);
    let got = client()
        .get(format!("{gw}/v1/storage/objects/big/one%20file"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.headers()["content-length"],
        (20u32 << 20).to_string().as_str()
    );
    assert!(got.bytes().await.unwrap() == data);
    let range = client()
        .get(format!("{gw}/v1/storage/objects/big/one%20file"))
        .bearer_auth(TOKEN)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.bytes().await.unwrap(), &data[10..20]);
    let list: Value = client()
        .get(format!("{gw}/v1/storage/list"))
        .query(&[("prefix", "big/")])
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["objects"][0]["key"], "big/one file");
    let missing = client()
        .get(format!("{gw}/v1/storage/objects/nope"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let v: Value = missing.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn upstream_down_is_502_and_slow_is_504() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let res = client()
        .get(format!("{gw}/v1/vectors/index"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upstream_unavailable");
    assert!(v["error"]["message"].as_str().unwrap().contains("vectord"));
    let started = std::time::Instant::now();
    let res = client()
        .post(format!("{gw}/v1/sql/slow"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(1900));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upstream_timeout");
    // Readiness names the dead upstream.
    let res = client().get(format!("{gw}/ready")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = res.text().await.unwrap();
    assert!(text.contains("vectord"), "{text}");
}

#[tokio::test]
async fn unknown_routes_caps_and_unconfigured_models() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let gw = gateway(&st, &rec, "").await;
    let res = client()
        .get(format!("{gw}/v1/nothing/here"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let res = client()
        .post(format!("{gw}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_configured");
    // catalog's cap is 4 MiB: a declared 5 MiB body is refused by the gateway itself.
    let res = client()
        .post(format!("{gw}/v1/catalog/register"))
        .bearer_auth(TOKEN)
        .body(vec![b'x'; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn chat_goes_to_the_model_server_with_its_own_key_not_our_token() {
    let dir = tempfile::tempdir().unwrap();
    let (st, rec) = (storaged(dir.path()).await, recorder().await);
    let toml = format!(
        "[auth]\ntoken = \"{TOKEN}\"\naudit_log = \"\"\n[gateway]\nstoraged_url = \"{st}\"\n[chat]\nurl = \"{rec}/api/v1\"\n[embed]\nprovider = \"openai\"\nurl = \"{rec}/api/v1\"\n"
    );
    let loaded = Config::from_toml(&toml, Path::new("t"), &|_: &str| None).unwrap();
    let env = |k: &str| (k == "LAKEHOUSE_CHAT_API_KEY").then(|| "model-key".to_owned());
    let gw = spawn(lakehouse_gateway::app(&loaded, &env).unwrap()).await;
    let v: Value = client()
        .post(format!("{gw}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["path"], "/api/v1/chat/completions");
    assert_eq!(v["authorization"], "Bearer model-key");
    let v: Value = client()
        .post(format!("{gw}/v1/embeddings"))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["path"], "/api/v1/embeddings");
    assert_eq!(v["authorization"], "", "our token never leaves the fleet");
}
