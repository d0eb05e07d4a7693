//! Starts storaged in-process on a loopback port over a real backend, and talks to it over
//! real HTTP. Each harness writes under its own random key prefix, so tests share an S3
//! bucket without seeing each other.

use std::path::Path;
use std::time::Duration;

use lakehouse_common::config::{Config, ProcessEnv};
use lakehouse_types::ObjectKey;
use reqwest::{Method, RequestBuilder, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running storaged and a client for it.
pub(crate) struct Harness {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    prefix: String,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) async fn start_fs(extra: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[storaged]\nroot = {:?}\n{extra}",
        dir.path().join("objects").to_str().unwrap()
    );
    start(&toml, Some(dir)).await
}

/// The S3 half needs a real server; say exactly how to get one rather than skip.
pub(crate) async fn start_s3(extra: &str) -> Harness {
    let need = |k: &str| {
        std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{k} is not set: the S3 conformance tests need a real S3-compatible server. \
                 Run `scripts/test.sh` (installs and starts Garage), or `eval \"$(scripts/s3-server.sh start)\"` \
                 first and run cargo test in that shell."
            )
        })
    };
    let toml = format!(
        "[storaged]\nbackend = \"s3\"\nendpoint = {:?}\nregion = {:?}\nbucket = {:?}\npath_style = true\n{extra}",
        need("LAKEHOUSE_TEST_S3_ENDPOINT"),
        need("LAKEHOUSE_TEST_S3_REGION"),
        need("LAKEHOUSE_TEST_S3_BUCKET"),
    );
    need("AWS_ACCESS_KEY_ID");
    need("AWS_SECRET_ACCESS_KEY");
    start(&toml, None).await
}

/// As [`start_s3`], every key under a prefix of its own (fleets sharing one bucket).
pub(crate) async fn start_s3_prefixed(extra: &str) -> Harness {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!("conformance-{}-{nanos}/nested/", std::process::id());
    start_s3(&format!("prefix = {prefix:?}\n{extra}")).await
}

async fn start(toml: &str, dir: Option<tempfile::TempDir>) -> Harness {
    let loaded = Config::from_toml(toml, Path::new("test.toml"), &|_: &str| None).unwrap();
    let store = lakehouse_storaged::build_store(&loaded.config.storaged, &ProcessEnv).unwrap();
    let app = lakehouse_storaged::app(&loaded, store);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let opts = (&loaded.config.common).into();
    tokio::spawn(async move {
        lakehouse_common::serve(listener, app, opts, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Harness {
        base,
        client: reqwest::Client::new(),
        prefix: format!("t-{}", uuid::Uuid::new_v4().simple()),
        shutdown: Some(tx),
        _dir: dir,
    }
}

impl Harness {
    /// Whether this storaged runs the fs backend (the s3 one keeps no local directory).
    pub(crate) fn is_fs(&self) -> bool {
        self._dir.is_some()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A key under this harness's prefix; `key("")` is the prefix itself, ending in '/'.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    pub(crate) fn prefix_encoded(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn object_url(&self, key: &str) -> String {
        self.url(&lakehouse_client::storage::object_path(
            &ObjectKey::parse(key).unwrap(),
        ))
    }

    pub(crate) fn req(&self, method: Method, key: &str) -> RequestBuilder {
        self.client.request(method, self.object_url(key))
    }

    pub(crate) async fn put(&self, key: &str, body: Vec<u8>) -> Response {
        self.req(Method::PUT, key).body(body).send().await.unwrap()
    }

    pub(crate) async fn get(&self, key: &str) -> Response {
        self.req(Method::GET, key).send().await.unwrap()
    }

    pub(crate) async fn get_range(&self, key: &str, range: &str) -> Response {
        self.req(Method::GET, key)
            .header("range", range)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Response {
        let mut q = vec![("prefix", prefix.to_owned())];
        if let Some(a) = after {
            q.push(("after", a.to_owned()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.client
            .get(self.url("/storage/list"))
            .query(&q)
            .send()
            .await
            .unwrap()
    }

    /// Keys of one page, whether it was truncated, and `next_after`.
    pub(crate) async fn list_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<String>, bool, Option<String>) {
        let res = self.list(prefix, after, limit).await;
        assert_eq!(res.status(), 200);
        let v: serde_json::Value = res.json().await.unwrap();
        let keys = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["key"].as_str().unwrap().to_owned())
            .collect();
        (
            keys,
            v["truncated"].as_bool().unwrap(),
            v["next_after"].as_str().map(str::to_owned),
        )
    }

    /// Polls `/metrics` until the unlabelled-or-labelled sample `name` equals `value`.
    pub(crate) async fn wait_for_metric(&self, name: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = self
                .client
                .get(self.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let current = text
                .lines()
                .find(|l| l.starts_with(name) && !l.starts_with('#'))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok());
            if current == Some(value) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} stayed at {current:?}, wanted {value}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
