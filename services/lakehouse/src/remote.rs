//! The connection to a fleet's gateway: where it is, which token to send, and what its
//! errors mean on the command line.
//!
//! The gateway URL is `--url`, else `LAKEHOUSE_URL`, else `url` in the CLI config file, else
//! `http://127.0.0.1:3110`. The token is `LAKEHOUSE_TOKEN`, else `token_file` or `token` in
//! the CLI config file: never a flag, so it stays out of shell history and `ps`. The CLI config
//! file is `--cli-config`, else `LAKEHOUSE_CLI_CONFIG`, else
//! `$XDG_CONFIG_HOME/lakehouse/cli.toml` (`~/.config/lakehouse/cli.toml`), and may be absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::Value;

/// What went wrong, and the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, config or input: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The fleet answered with an error: exit 1.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error code of the JSON body.
        code: String,
        /// Its message.
        message: String,
    },
    /// Anything else that stopped the command (unreachable gateway, a local file): exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit status, as git and kubectl use them: 1 failed, 2 misused.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Api { .. } | Self::Failed(_) => 1,
        }
    }
}

/// `Failed` from anything displayable, with context.
pub fn failed(context: impl std::fmt::Display, e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("{context}: {e}"))
}

/// The CLI config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CliConfig {
    url: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    /// PEM CA bundle for an `https://` gateway with a private CA.
    ca_file: Option<PathBuf>,
}

fn default_cli_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("lakehouse/cli.toml"))
}

fn read_cli_config(explicit: Option<&Path>) -> Result<CliConfig, CliError> {
    let from_env = std::env::var_os("LAKEHOUSE_CLI_CONFIG").map(PathBuf::from);
    let (path, required) = match explicit.map(Path::to_path_buf).or(from_env) {
        Some(p) => (p, true),
        None => match default_cli_config() {
            Some(p) => (p, false),
            None => return Ok(CliConfig::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CliConfig::default());
        }
        Err(e) => return Err(CliError::Usage(format!("{}: {e}", path.display()))),
    };
    toml::from_str(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// Characters escaped in one path segment (a dataset, index or key part).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// `name` as one URL path segment.
pub fn segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// A storage key as a URL path (its `/`s kept).
pub fn key_path(key: &str) -> String {
    key.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// The gateway, its token and a connection pool.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl Remote {
    /// Settings from the flag, the environment and the CLI config file, in that order.
    pub fn resolve(url_flag: Option<&str>, cli_config: Option<&Path>) -> Result<Self, CliError> {
        let file = read_cli_config(cli_config)?;
        let url = url_flag
            .map(str::to_owned)
            .or_else(|| std::env::var("LAKEHOUSE_URL").ok())
            .or(file.url)
            .unwrap_or_else(|| "http://127.0.0.1:3110".to_owned());
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| CliError::Usage(format!("gateway URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CliError::Usage(format!(
                "gateway URL {url:?}: use http:// or https://"
            )));
        }
        let token = match std::env::var("LAKEHOUSE_TOKEN").ok() {
            Some(t) => Some(t),
            None => match (&file.token_file, file.token) {
                (Some(p), _) => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| CliError::Usage(format!("token_file {}: {e}", p.display())))?
                        .trim()
                        .to_owned(),
                ),
                (None, t) => t,
            },
        }
        .filter(|t| !t.trim().is_empty());
        if let Some(ca) = &file.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| CliError::Usage(format!("ca_file {}: {e}", ca.display())))?;
            lakehouse_client::trust_ca_pem(&pem)
                .map_err(|e| CliError::Usage(format!("ca_file {}: {e}", ca.display())))?;
        }
        let http = lakehouse_client::http_builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| failed("HTTP client", e))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `/v1{path}` with the token set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let b = self.http.request(method, format!("{}/v1{path}", self.base));
        match &self.token {
            Some(t) => b.bearer_auth(t),
            None => b,
        }
    }

    /// Sends `req`; an error status becomes [`CliError::Api`] with the body's code and message.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, CliError> {
        let res = req.send().await.map_err(|e| {
            let mut msg = format!("cannot reach the gateway at {}: {e}", self.base);
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            CliError::Failed(msg)
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(api_error(res).await)
    }

    /// Sends `req` and decodes its JSON answer.
    pub async fn json(&self, req: RequestBuilder) -> Result<Value, CliError> {
        let res = self.send(req).await?;
        res.json()
            .await
            .map_err(|e| failed("the gateway's answer is not JSON", e))
    }

    /// `GET /v1{path}` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.json(self.request(Method::GET, path)).await
    }
}

/// The error a non-success answer stands for.
pub async fn api_error(res: Response) -> CliError {
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(b) => CliError::Api {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => CliError::Api {
            status,
            code: "http_error".to_owned(),
            message: String::from_utf8_lossy(&bytes)
                .trim()
                .chars()
                .take(300)
                .collect(),
        },
    }
}
