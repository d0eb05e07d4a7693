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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A client for one service at one base URL, or at any of several instances of which one
/// serves at a time (catalogd's active/standby pair): a request that cannot connect, or that
/// a standby turns away, goes to the next, and the one that answered is used from then on.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    bases: Arc<[String]>,
    current: Arc<AtomicUsize>,
    token: Option<String>,
    http: reqwest::Client,
}

/// Response header naming an instance's part when it is not the serving one (`standby`).
pub const ROLE_HEADER: &str = "x-lakehouse-role";

/// Whether `res` comes from a standby turning the request away.
pub fn is_standby_refusal(status: StatusCode, headers: &reqwest::header::HeaderMap) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE
        && headers
            .get(ROLE_HEADER)
            .is_some_and(|v| v.as_bytes() == b"standby")
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
        Self::any_of(&[base.to_owned()], token, http)
    }

    /// A client for whichever of `bases` serves (at least one).
    pub fn any_of(
        bases: &[String],
        token: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, ClientError> {
        let mut clean = Vec::with_capacity(bases.len());
        for base in bases {
            let parsed =
                reqwest::Url::parse(base).map_err(|_| ClientError::BadUrl(base.clone()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ClientError::BadUrl(base.clone()));
            }
            clean.push(base.trim_end_matches('/').to_owned());
        }
        if clean.is_empty() {
            return Err(ClientError::BadUrl(String::new()));
        }
        Ok(Self {
            bases: clean.into(),
            current: Arc::default(),
            token: token.map(str::to_owned),
            http,
        })
    }

    /// The base URL without a trailing slash (of the instance in use).
    pub fn base(&self) -> &str {
        let i = self.current.load(Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// `req` sent to the instance after the one its URL names, and that instance's index.
    fn to_next(&self, mut req: reqwest::Request) -> Option<(reqwest::Request, usize)> {
        let url = req.url().to_string();
        let from = self
            .bases
            .iter()
            .position(|b| url.starts_with(b.as_str()))?;
        let to = (from + 1) % self.bases.len();
        let moved = format!("{}{}", self.bases[to], &url[self.bases[from].len()..]);
        *req.url_mut() = reqwest::Url::parse(&moved).ok()?;
        Some((req, to))
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
            url: self.base().to_owned(),
            message: e.to_string(),
        })?;
        let url = req.url().to_string();
        let rid = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut req = req;
        let mut url = url;
        let mut tries = self.bases.len();
        let res = loop {
            tries -= 1;
            let spare = if tries > 0 { req.try_clone() } else { None };
            let outcome = client.execute(req).await;
            let turned_away = match &outcome {
                Ok(r) => is_standby_refusal(r.status(), r.headers()),
                Err(e) => e.is_connect(),
            };
            if turned_away && let Some((next, i)) = spare.and_then(|r| self.to_next(r)) {
                self.current.store(i, Ordering::Relaxed);
                url = next.url().to_string();
                req = next;
                continue;
            }
            break outcome.map_err(|e| ClientError::transport(&url, &e))?;
        };
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
