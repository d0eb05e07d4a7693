//! Helpers for catalogd's tests: a real storaged (fs) and catalogd on loopback sockets, and
//! a small JSON client.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use lakehouse_common::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const TOKEN: &str = "catalog-test-token";

pub async fn serve_on(listener: TcpListener, app: Router) -> String {
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

pub async fn storaged_on(listener: TcpListener, dir: &Path) -> String {
    let toml = format!(
        "[auth]\ntoken = \"{TOKEN}\"\n[storaged]\nroot = {:?}\n",
        dir.to_str().unwrap()
    );
    let loaded = Config::from_toml(&toml, Path::new("t"), &|_: &str| None).unwrap();
    let store = lakehouse_storaged::build_store(&loaded.config.storaged, &|_: &str| None).unwrap();
    serve_on(listener, lakehouse_storaged::app(&loaded, store)).await
}

pub async fn storaged(dir: &Path) -> String {
    storaged_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), dir).await
}

pub async fn catalogd(storaged_url: &str) -> String {
    catalogd_with(storaged_url, "").await
}

/// catalogd with more `[catalogd]` keys (`extra` is TOML lines).
pub async fn catalogd_with(storaged_url: &str, extra: &str) -> String {
    let toml = format!(
        "[auth]\ntoken = \"{TOKEN}\"\n[catalogd]\nstoraged_url = \"{storaged_url}\"\n{extra}\n"
    );
    let loaded = Config::from_toml(&toml, Path::new("t"), &|_: &str| None).unwrap();
    let (app, catalog) = lakehouse_catalogd::app(&loaded).unwrap();
    tokio::spawn(async move { catalog.load().await });
    serve_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), app).await
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn wait_ready(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let res = self
                .http
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            if status == StatusCode::OK {
                return body;
            }
            assert!(Instant::now() < deadline, "not ready: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn version(&self) -> u64 {
        self.get("/catalog/version").await.1["version"]
            .as_u64()
            .unwrap()
    }
}

pub fn obj(key: &str, rows: u64) -> Value {
    json!({"key": key, "size": 100, "row_count": rows})
}

pub fn schema() -> Value {
    json!([{"name": "id", "type": "BIGINT", "nullable": false}, {"name": "name", "type": "VARCHAR", "nullable": true}])
}

pub async fn put_object(storaged: &str, key: &str, body: &[u8]) {
    let res = reqwest::Client::new()
        .put(format!("{storaged}/storage/objects/{key}"))
        .bearer_auth(TOKEN)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

pub async fn object_exists(storaged: &str, key: &str) -> bool {
    let res = reqwest::Client::new()
        .head(format!("{storaged}/storage/objects/{key}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    res.status() == StatusCode::OK
}
