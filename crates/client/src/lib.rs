//! Typed HTTP clients for Lakehouse's own services.
//!
//! Layout: [`ServiceClient`] is the base client every service-specific client wraps: it joins
//! paths to a base URL (sub-paths kept), sends `Authorization: Bearer` and `x-request-id`,
//! and turns error answers into [`ClientError::Status`] with the server's code and message.
//! [`catalog`], [`storage`], [`vectors`] and [`sql`] are the typed clients for catalogd,
//! storaged, vectord and queryd, usable directly or through the gateway's `/v1`;
//! [`Gateway`] bundles them for a program that talks only to the gateway (the batch jobs).

pub mod catalog;
pub mod sql;
pub mod storage;
pub mod vectors;

use std::time::Duration;

use lakehouse_types::{ErrorBody, HealthResponse};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

pub use catalog::CatalogClient;
pub use sql::SqlClient;
pub use storage::StorageClient;
pub use vectors::VectorClient;

/// The request-id header name.
pub const REQUEST_ID: &str = "x-request-id";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{status} {code}: {message} (request {request_id})")]
    Status {
        /// HTTP status.
        status: StatusCode,
        /// The error code from the JSON body (or the status' own tag).
        code: String,
        /// The error message.
        message: String,
        /// The request id of the failed call.
        request_id: String,
    },
    /// The server could not be reached.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The server did not answer in time.
    #[error("timed out calling {url}")]
    Timeout {
        /// The URL called.
        url: String,
    },
    /// The answer could not be decoded.
    #[error("bad answer from {url}: {message}")]
    Decode {
        /// The URL called.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The base URL is unusable.
    #[error("invalid base URL '{0}'")]
    BadUrl(String),
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error for a request to `url` that got no answer (timeout, refused, reset).
    pub fn transport(url: &str, e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout {
                url: url.to_owned(),
            }
        } else {
            let mut message = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                message = format!("{message}: {s}");
                src = s.source();
            }
            Self::Unreachable {
                url: url.to_owned(),
                message,
            }
        }
    }
}

/// A client for one service at one base URL.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

static TRUSTED: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();

/// Trusts the CA certificates in `pem`, besides the platform's roots, in every client built
/// afterwards by [`http_builder`] (the fleet's CA, `[common] tls_ca`). Once per process.
pub fn trust_ca_pem(pem: &[u8]) -> Result<(), String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    let _ = TRUSTED.set(certs);
    Ok(())
}

/// A reqwest builder trusting the fleet's CA (see [`trust_ca_pem`]).
pub fn http_builder() -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder();
    for c in TRUSTED.get().into_iter().flatten() {
        b = b.add_root_certificate(c.clone());
    }
    b
}

/// A reqwest client with the timeouts internal calls use.
pub fn default_http_client(connect_timeout: Duration) -> reqwest::Client {
    http_builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl ServiceClient {
    /// A client for `base` (e.g. `http://127.0.0.1:3211` or `http://host/api`).
    pub fn new(base: &str, token: Option<&str>) -> Result<Self, ClientError> {
        Self::with_http(base, token, default_http_client(Duration::from_secs(2)))
    }

    /// As [`ServiceClient::new`], sharing an existing connection pool.
    pub fn with_http(
        base: &str,
        token: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, ClientError> {
        let parsed = reqwest::Url::parse(base).map_err(|_| ClientError::BadUrl(base.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ClientError::BadUrl(base.to_owned()));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            http,
        })
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with auth and request id set.
    pub fn request(&self, method: Method, path: &str, request_id: &str) -> RequestBuilder {
        let mut b = self
            .http
            .request(method, self.url(path))
            .header(REQUEST_ID, request_id);
        if let Some(t) = &self.token {
            b = b.bearer_auth(t);
        }
        b
    }

    /// Sends `req`, mapping transport failures and error statuses.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, ClientError> {
        let (client, req) = req.build_split();
        let req = req.map_err(|e| ClientError::Decode {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        let url = req.url().to_string();
        let rid = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let res = client
            .execute(req)
            .await
            .map_err(|e| ClientError::transport(&url, &e))?;
        if res.status().is_client_error() || res.status().is_server_error() {
            return Err(error_from(res, rid).await);
        }
        Ok(res)
    }

    /// Sends `req` and decodes a JSON answer.
    pub async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, ClientError> {
        let res = self.send(req).await?;
        let url = res.url().to_string();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| ClientError::transport(&url, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// `GET /health`, with a short timeout: used by readiness checks.
    pub async fn health(&self, request_id: &str) -> Result<HealthResponse, ClientError> {
        let req = self
            .request(Method::GET, "/health", request_id)
            .timeout(Duration::from_secs(2));
        self.send_json(req).await
    }
}

/// Every service's client through one gateway (`<gateway>/v1/...`).
#[derive(Debug, Clone)]
pub struct Gateway {
    /// `/v1/storage/...`.
    pub storage: StorageClient,
    /// `/v1/catalog/...`.
    pub catalog: CatalogClient,
    /// `/v1/vectors/...`.
    pub vectors: VectorClient,
    /// `/v1/sql`.
    pub sql: SqlClient,
    /// The base client for `/v1` (for `/v1/embeddings` and `/v1/chat/...`).
    pub v1: ServiceClient,
}

impl Gateway {
    /// Clients for the gateway at `url` (without `/v1`), sending `token`.
    pub fn new(url: &str, token: Option<&str>, http: reqwest::Client) -> Result<Self, ClientError> {
        let v1 =
            ServiceClient::with_http(&format!("{}/v1", url.trim_end_matches('/')), token, http)?;
        Ok(Self {
            storage: StorageClient::new(v1.clone()),
            catalog: CatalogClient::new(v1.clone()),
            vectors: VectorClient::new(v1.clone()),
            sql: SqlClient::new(v1.clone()),
            v1,
        })
    }
}

/// Probes every dependency's `/health` at once; one line per dependency that fails.
pub async fn unhealthy(deps: &[(&'static str, ServiceClient)], request_id: &str) -> Vec<String> {
    let checks = deps.iter().map(|(name, c)| async move {
        c.health(request_id)
            .await
            .err()
            .map(|e| format!("{name}: {e}"))
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn error_from(res: Response, request_id: String) -> ClientError {
    let status = res.status();
    let bytes = res.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(b) => ClientError::Status {
            status,
            code: b.error.code,
            message: b.error.message,
            request_id: if b.error.request_id.is_empty() {
                request_id
            } else {
                b.error.request_id
            },
        },
        Err(_) => ClientError::Status {
            status,
            code: status
                .canonical_reason()
                .unwrap_or("error")
                .to_lowercase()
                .replace(' ', "_"),
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
            request_id,
        },
    }
}
