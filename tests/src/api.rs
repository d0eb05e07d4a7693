//! A small client for the gateway's `/v1` data routes, for the end-to-end tests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The gateway with a token.
#[derive(Debug, Clone)]
pub struct Api {
    /// Gateway base URL.
    pub base: String,
    /// Bearer token.
    pub token: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

/// Status and JSON body (`Null` when the body is not JSON).
pub type Answer = (StatusCode, Value);

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Api {
    /// A client for `base`.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap(),
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/v1{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// `POST /v1/ingest?{query}` with `csv` as the multipart field `file`.
    pub async fn ingest(&self, query: &str, csv: impl Into<Vec<u8>>) -> Answer {
        let body = multipart("file", &csv.into());
        self.ingest_raw(query, body).await
    }

    /// `POST /v1/ingest?{query}` with a prepared multipart body.
    pub async fn ingest_raw(&self, query: &str, (content_type, body): (String, Vec<u8>)) -> Answer {
        let res = self
            .req(reqwest::Method::POST, &format!("/ingest?{query}"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(res).await
    }

    /// `POST /v1/sql` (JSON format).
    pub async fn sql(&self, sql: &str) -> Answer {
        self.sql_with(json!({ "sql": sql })).await
    }

    /// `POST /v1/sql` with a whole body.
    pub async fn sql_with(&self, body: Value) -> Answer {
        let res = self
            .req(reqwest::Method::POST, "/sql")
            .json(&body)
            .send()
            .await
            .unwrap();
        answer(res).await
    }

    /// `POST /v1/sql`, the raw answer.
    pub async fn sql_raw(&self, body: Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, "/sql")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The rows of a query that must succeed.
    pub async fn rows(&self, sql: &str) -> Vec<Value> {
        let (st, v) = self.sql(sql).await;
        assert_eq!(st, StatusCode::OK, "{sql} → {v}");
        v["rows"].as_array().unwrap().clone()
    }

    /// GET a `/v1` path.
    pub async fn get(&self, path: &str) -> Answer {
        answer(self.req(reqwest::Method::GET, path).send().await.unwrap()).await
    }

    /// DELETE a `/v1` path.
    pub async fn delete(&self, path: &str) -> Answer {
        answer(
            self.req(reqwest::Method::DELETE, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Any `/v1` request with an optional JSON body: status and JSON answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut req = self.req(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.unwrap()).await
    }

    /// `POST` a JSON body to a `/v1` path.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// `PUT /v1/storage/objects/{key}`, which must succeed.
    pub async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        let res = self
            .req(reqwest::Method::PUT, &format!("/storage/objects/{key}"))
            .body(body.into())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "PUT {key} → {}", res.status());
    }

    /// A request written byte for byte, `path` included (HTTP client libraries resolve
    /// `%2E%2E` and other dot segments before sending): the status and the body.
    pub async fn raw(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.base.strip_prefix("http://").unwrap();
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.token,
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head[9..12].parse().unwrap(), body.to_owned())
    }

    /// Every storage key under `prefix`, following pages.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let (st, v) = self
                .get(&format!(
                    "/storage/list?prefix={prefix}&limit=1000&after={}",
                    percent_encoding::utf8_percent_encode(
                        &after,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ))
                .await;
            assert_eq!(st, StatusCode::OK, "{v}");
            out.extend(
                v["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["key"].as_str().unwrap().to_owned()),
            );
            match v["next_after"].as_str() {
                Some(next) if v["truncated"] == true => after = next.to_owned(),
                _ => return out,
            }
        }
    }

    /// The Parquet objects under `prefix` (a dataset's data, without its Iceberg metadata).
    pub async fn data_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = self.keys(prefix).await;
        keys.retain(|k| k.ends_with(".parquet"));
        keys
    }
}

/// A multipart/form-data body with one file field.
pub fn multipart(field: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "lakehouse-e2e-boundary-7d1c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
