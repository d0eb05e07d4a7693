//! `lakehouse.toml`: one typed struct per section, unknown keys refused, values validated once
//! at startup with the offending key named.
//!
//! Every binary parses the whole file (it ships with the binaries, so a typo anywhere is a bug
//! worth stopping for) and then uses `[common]`, `[auth]` and its own section.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::auth::AuthPolicy;

/// A config problem, always naming the key (`section.key`) or the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for our schema (unknown key, wrong type).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The path given.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("invalid value for `{key}`: {message}")]
    Invalid {
        /// `section.key`.
        key: String,
        /// Why.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Server knobs shared by every service.
    pub common: CommonConfig,
    /// Bearer token and IP allowlist, shared by every service.
    pub auth: AuthConfig,
    /// The public edge.
    pub gateway: GatewayConfig,
    /// Object storage.
    pub storaged: StoragedConfig,
    /// Dataset manifests.
    pub catalogd: CatalogdConfig,
    /// CSV ingestion.
    pub ingestd: IngestdConfig,
    /// SQL.
    pub queryd: QuerydConfig,
    /// Vector indexes.
    pub vectord: VectordConfig,
    /// Embedding provider.
    pub embed: EmbedConfig,
    /// Chat model server.
    pub chat: ChatConfig,
    /// The materializer batch job.
    pub materializer: MaterializerConfig,
    /// The replay batch job.
    pub replay: ReplayConfig,
}

/// `[common]`: server limits every service applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommonConfig {
    /// `json` (default: one JSON object per line) or `text` for reading by eye.
    pub log_format: LogFormat,
    /// A client must send its request headers within this time.
    pub header_read_timeout_ms: u64,
    /// Default limit for a whole request (routes with uploads set their own).
    pub request_timeout_ms: u64,
    /// On SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace_ms: u64,
    /// Open connections beyond this wait to be accepted.
    pub max_connections: usize,
    /// PEM certificate chain: with `tls_key`, the service listens with TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// PEM CA the fleet's clients and the gateway trust (besides the platform's roots).
    pub tls_ca: Option<PathBuf>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Json,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 60_000,
            shutdown_grace_ms: 30_000,
            max_connections: 1024,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON lines.
    Json,
    /// Human-readable lines.
    Text,
}

/// `[auth]`. The token is secret: `Debug` never prints it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer token every non-public route requires; empty means none.
    pub token: String,
    /// A file holding the token (trailing newline ignored); overrides `token`.
    pub token_file: Option<PathBuf>,
    /// Source addresses allowed (CIDRs or bare IPs); empty means any.
    pub allowed_ips: Vec<String>,
    /// Named client tokens with roles and scopes (`[[auth.clients]]`).
    pub clients: Vec<crate::clients::ClientConfig>,
    /// The audit log's file (JSON lines, appended); empty: no audit log.
    pub audit_log: PathBuf,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            token: String::new(),
            token_file: None,
            allowed_ips: Vec::new(),
            clients: Vec::new(),
            audit_log: PathBuf::from("data/audit.jsonl"),
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("token_file", &self.token_file)
            .field("allowed_ips", &self.allowed_ips)
            .field(
                "clients",
                &self.clients.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .field("audit_log", &self.audit_log)
            .finish()
    }
}

fn default_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The base URLs of a service's instances: one string, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instances(pub Vec<String>);

impl Instances {
    /// One instance.
    pub fn one(url: impl Into<String>) -> Self {
        Self(vec![url.into()])
    }

    /// The first instance (the only one of a service that runs as one).
    pub fn first(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }
}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(d) {
            Ok(OneOrMany::One(u)) => Ok(Self(vec![u])),
            Ok(OneOrMany::Many(v)) => Ok(Self(v)),
            Err(_) => Err(serde::de::Error::custom("expected a URL or a list of URLs")),
        }
    }
}

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Listen address.
    pub bind: String,
    /// storaged base URL, or several instances over one S3 bucket (balanced).
    pub storaged_url: Instances,
    /// catalogd base URL, or the instances of an active/standby pair (requests go to the one
    /// holding the catalog lease).
    pub catalogd_url: Instances,
    /// ingestd base URL, or several instances (balanced).
    pub ingestd_url: Instances,
    /// queryd base URL, or several instances (balanced).
    pub queryd_url: Instances,
    /// vectord base URL (one: it owns the indexes it loads).
    pub vectord_url: Instances,
    /// An upstream must send its response headers within this time, else 504.
    pub upstream_timeout_ms: u64,
    /// Connecting to an upstream must succeed within this time, else 502.
    pub connect_timeout_ms: u64,
    /// How often the instances of an upstream with several are checked (`/health`); one that
    /// does not answer is taken out until it does.
    pub health_interval_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3110".into(),
            storaged_url: Instances::one(default_url(3211)),
            catalogd_url: Instances::one(default_url(3212)),
            ingestd_url: Instances::one(default_url(3213)),
            queryd_url: Instances::one(default_url(3214)),
            vectord_url: Instances::one(default_url(3215)),
            upstream_timeout_ms: 60_000,
            connect_timeout_ms: 2_000,
            health_interval_ms: 2_000,
        }
    }
}

/// Storage backend kind.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A local directory.
    Fs,
    /// An S3-compatible bucket.
    S3,
}

/// `[storaged]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoragedConfig {
    /// Listen address.
    pub bind: String,
    /// `fs` or `s3`.
    pub backend: Backend,
    /// fs: the root directory.
    pub root: PathBuf,
    /// s3: endpoint URL (omit for AWS).
    pub endpoint: Option<String>,
    /// s3: region.
    pub region: String,
    /// s3: bucket.
    pub bucket: String,
    /// s3: every key is stored under this prefix (empty, or ending in `/`), so several
    /// fleets can share one bucket.
    pub prefix: String,
    /// s3: path-style addressing.
    pub path_style: bool,
    /// s3: uploads above this many bytes use multipart, in parts of this size (≥ 5 MiB).
    pub multipart_part_bytes: usize,
    /// Largest object accepted, in bytes (413 above).
    pub max_object_bytes: u64,
    /// Uploads processed at once; more wait up to `upload_queue_timeout_ms`, then get 503.
    pub max_concurrent_uploads: usize,
    /// How long an upload waits for a free slot.
    pub upload_queue_timeout_ms: u64,
    /// Limit for one upload or download, start to end.
    pub transfer_timeout_ms: u64,
}

impl Default for StoragedConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3211".into(),
            backend: Backend::Fs,
            root: PathBuf::from("data/objects"),
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            prefix: String::new(),
            path_style: true,
            multipart_part_bytes: 8 << 20,
            max_object_bytes: 256 << 20,
            max_concurrent_uploads: 4,
            upload_queue_timeout_ms: 2_000,
            transfer_timeout_ms: 600_000,
        }
    }
}

/// `[catalogd]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogdConfig {
    /// Listen address.
    pub bind: String,
    /// storaged base URL.
    pub storaged_url: String,
    /// Snapshots kept per dataset whatever their age.
    pub keep_versions: u64,
    /// Snapshots younger than this many days are kept whatever their number.
    pub keep_days: f64,
    /// Minutes between garbage collections (0: only `POST /catalog/gc`).
    pub gc_interval_minutes: u64,
    /// Unreferenced objects younger than this are left alone: an upload whose register may
    /// still come.
    pub gc_grace_seconds: u64,
    /// A checkpoint of the whole catalog is written every this many commits.
    pub checkpoint_every: u64,
    /// `[catalogd.iceberg]`: every dataset as an Iceberg table, and the REST catalog.
    pub iceberg: IcebergConfig,
    /// How long the catalog lease lasts unrenewed: of the instances sharing one storage, the
    /// holder commits and the others stand by, taking over this long after it stops
    /// renewing. 0 turns the lease off (one instance only, never two).
    pub lease_ms: u64,
    /// This instance's name in the lease: unique among the instances, the same across
    /// restarts (a restart takes its own lease back at once). Empty: `<hostname>:<bind>`.
    pub instance_name: String,
}

/// `[catalogd.iceberg]`. Locations and storage settings default to what `[storaged]` says;
/// set them when catalogd's view of the storage differs from an outside reader's (another
/// host, a proxy in front of the S3 server).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IcebergConfig {
    /// Write Iceberg metadata next to every snapshot and serve `/iceberg`.
    pub enabled: bool,
    /// Where locations start: `file:///abs/dir` or `s3://bucket`; empty: `[storaged]`'s root
    /// (made absolute) or bucket.
    pub location: String,
    /// `s3.endpoint` handed to readers; empty: `[storaged] endpoint`.
    pub s3_endpoint: String,
    /// `s3.region` handed to readers; empty: `[storaged] region`.
    pub s3_region: String,
}

impl Default for IcebergConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            location: String::new(),
            s3_endpoint: String::new(),
            s3_region: String::new(),
        }
    }
}

impl Default for CatalogdConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3212".into(),
            storaged_url: default_url(3211),
            keep_versions: 10,
            keep_days: 7.0,
            gc_interval_minutes: 60,
            gc_grace_seconds: 3_600,
            checkpoint_every: 100,
            iceberg: IcebergConfig::default(),
            lease_ms: 10_000,
            instance_name: String::new(),
        }
    }
}

/// `[ingestd]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestdConfig {
    /// Listen address.
    pub bind: String,
    /// storaged base URL.
    pub storaged_url: String,
    /// catalogd base URL, or the instances of an active/standby pair (the leader is followed).
    pub catalogd_url: Instances,
    /// Uploads (the CSV, multipart framing aside) larger than this get 413.
    pub max_upload_bytes: u64,
    /// Uploads and their Parquet are staged here, then removed.
    pub tmp_dir: PathBuf,
    /// Conversions running at once; more wait their turn.
    pub max_concurrent_ingests: usize,
    /// DuckDB worker threads per conversion (0 = one per core).
    pub threads: usize,
    /// DuckDB memory limit per conversion, in MiB.
    pub memory_limit_mb: u64,
    /// One upload, start to end.
    pub transfer_timeout_ms: u64,
}

impl Default for IngestdConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3213".into(),
            storaged_url: default_url(3211),
            catalogd_url: Instances::one(default_url(3212)),
            max_upload_bytes: 1 << 30,
            tmp_dir: PathBuf::from("data/tmp/ingestd"),
            max_concurrent_ingests: 2,
            threads: 0,
            memory_limit_mb: 256,
            transfer_timeout_ms: 600_000,
        }
    }
}

/// `[queryd]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerydConfig {
    /// Listen address.
    pub bind: String,
    /// storaged base URL.
    pub storaged_url: String,
    /// catalogd base URL, or the instances of an active/standby pair (the leader is followed).
    pub catalogd_url: Instances,
    /// Local directory caching Parquet objects (the only files queries can read).
    pub cache_dir: PathBuf,
    /// Cache size cap; least recently used objects beyond it are evicted.
    pub cache_max_bytes: u64,
    /// A query running longer is interrupted and answered with 504.
    pub query_timeout_ms: u64,
    /// Queries running at once (each on its own DuckDB connection); more wait.
    pub max_concurrent_queries: usize,
    /// Rows returned when a request gives no `max_rows`.
    pub default_max_rows: u64,
    /// DuckDB worker threads (0 = one per core).
    pub threads: usize,
    /// DuckDB memory limit, in MiB.
    pub memory_limit_mb: u64,
    /// vectord's instances (its shards, in order, as `gateway.vectord_url`): where
    /// `vector_search` in SQL searches.
    pub vectord_url: Instances,
    /// Searches (and `embed` calls) one statement may make.
    pub max_vector_searches: u32,
}

impl Default for QuerydConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3214".into(),
            storaged_url: default_url(3211),
            catalogd_url: Instances::one(default_url(3212)),
            cache_dir: PathBuf::from("data/cache/queryd"),
            cache_max_bytes: 10 << 30,
            query_timeout_ms: 30_000,
            max_concurrent_queries: 4,
            default_max_rows: 10_000,
            threads: 0,
            memory_limit_mb: 2048,
            vectord_url: Instances::one(default_url(3215)),
            max_vector_searches: 1_000,
        }
    }
}

/// `[vectord]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VectordConfig {
    /// Listen address.
    pub bind: String,
    /// storaged base URL.
    pub storaged_url: String,
    /// After a write, the snapshot save waits this long so that a burst of writes costs one
    /// save. Writes are durable before this (in the write log); this only bounds how much
    /// log a restart replays.
    pub save_delay_ms: u64,
    /// Storage calls of a write (its log record) that take longer than this fail the write
    /// with 503, nothing applied.
    pub log_timeout_ms: u64,
    /// Snapshots larger than this are stored as parts of this size; it must stay under
    /// storaged's 256 MiB object cap.
    pub snapshot_part_mb: u64,
    /// catalogd base URL (or its active/standby pair): index commits are recorded there, and
    /// searches `as_of` a version ask it which state to read.
    pub catalogd_url: Instances,
    /// Memory for index states loaded to answer searches as of older versions; the least
    /// recently used go first.
    pub as_of_cache_mb: u64,
    /// Answers kept for repeated searches (same index state, vector, k, ef, filter and
    /// exclusions); any write to an index makes its earlier answers unreachable. 0 turns the
    /// cache off.
    pub search_cache_entries: usize,
    /// This instance's shard of the indexes, of `shards`: it loads and serves only the
    /// indexes the shard owns (by a hash of the name; the gateway routes the same way).
    pub shard: usize,
    /// How many vectord instances share the indexes (the length of `gateway.vectord_url`).
    pub shards: usize,
}

impl Default for VectordConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:3215".into(),
            storaged_url: default_url(3211),
            save_delay_ms: 500,
            log_timeout_ms: 30_000,
            snapshot_part_mb: 64,
            catalogd_url: Instances::one(default_url(3212)),
            as_of_cache_mb: 1_024,
            search_cache_entries: 1_024,
            shard: 0,
            shards: 1,
        }
    }
}

/// `[embed]`: which embedding provider the batch jobs use, and where the gateway's
/// `/v1/embeddings` goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbedConfig {
    /// `hash` (built in, offline, lexical) or `openai` (an OpenAI-compatible server).
    pub provider: String,
    /// Base URL of the OpenAI-compatible server, including its `/v1`. The gateway forwards
    /// `/v1/embeddings` there; the batch jobs call the gateway.
    pub url: Option<String>,
    /// Model name sent to the server.
    pub model: Option<String>,
    /// Vector dimension.
    pub dimension: usize,
    /// Texts per `/v1/embeddings` request.
    pub batch_size: usize,
    /// One request's time limit.
    pub timeout_ms: u64,
    /// Tries per request (timeouts, 429 and 5xx are retried with backoff).
    pub attempts: u32,
    /// Prepended to texts embedded as queries (E5 models want `"query: "`).
    pub query_prefix: String,
    /// Prepended to texts embedded as documents (E5 models want `"passage: "`).
    pub document_prefix: String,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        Self {
            provider: "hash".into(),
            url: None,
            model: None,
            dimension: 384,
            batch_size: 64,
            timeout_ms: 30_000,
            attempts: 4,
            query_prefix: String::new(),
            document_prefix: String::new(),
        }
    }
}

/// `[chat]`: the OpenAI-compatible chat server behind `/v1/chat/*`. Its API key, if any,
/// comes from `LAKEHOUSE_CHAT_API_KEY`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Base URL including its `/v1`, e.g. `http://127.0.0.1:8090/v1`.
    pub url: Option<String>,
    /// Model name sent to the server.
    pub model: Option<String>,
    /// One request's time limit.
    pub timeout_ms: u64,
    /// Tries per request (timeouts, 429, 5xx and malformed replies are retried with backoff).
    pub attempts: u32,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            url: None,
            model: None,
            timeout_ms: 120_000,
            attempts: 3,
        }
    }
}

/// `[materializer]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaterializerConfig {
    /// The gateway the job talks to.
    pub gateway_url: String,
    /// Rows per evidence object at most (a day with more gets several objects).
    pub max_rows_per_object: usize,
    /// Local directory for staging Parquet before upload.
    pub tmp_dir: String,
    /// A Prometheus textfile the run's figures are written to (empty: none).
    pub metrics_textfile: String,
}

impl Default for MaterializerConfig {
    fn default() -> Self {
        Self {
            gateway_url: default_url(3110),
            max_rows_per_object: 100_000,
            tmp_dir: "data/tmp/materializer".into(),
            metrics_textfile: String::new(),
        }
    }
}

/// `[replay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// The gateway the job talks to.
    pub gateway_url: String,
    /// Vector index searched for evidence.
    pub index: String,
    /// Evidence records retrieved per task.
    pub k: usize,
    /// Estimated tokens the bundled prompt may hold (system prompt, evidence and task).
    pub budget_tokens: usize,
    /// Completion tokens asked for.
    pub max_tokens: u32,
    /// The system prompt when a task names none.
    pub system_prompt: String,
    /// Local directory for staging Parquet, and for rows storage refused.
    pub tmp_dir: String,
    /// A Prometheus textfile the run's figures are written to (empty: none).
    pub metrics_textfile: String,
    /// How evidence is retrieved: `sql`, one statement joining `vector_search` with the
    /// `evidence` dataset (needs `[queryd] vectord_url`), or `calls`, a search then a query.
    pub retrieve: RetrieveMode,
}

/// `[replay] retrieve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetrieveMode {
    /// One SQL statement: `vector_search(...)` joined with `evidence`.
    #[default]
    Sql,
    /// Two calls: vectord's search route, then SQL by ids.
    Calls,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            gateway_url: default_url(3110),
            index: "evidence".into(),
            k: 5,
            budget_tokens: 1500,
            max_tokens: 256,
            system_prompt: "Answer the task. Use the evidence records when they help, and cite \
                            their ids in square brackets."
                .into(),
            tmp_dir: "data/tmp/replay".into(),
            metrics_textfile: String::new(),
            retrieve: RetrieveMode::Sql,
        }
    }
}

/// Environment lookups, injectable so tests need not mutate the process environment.
pub trait Env {
    /// The value of variable `key`, if set and non-empty.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, key: &str) -> Option<String> {
        self(key)
    }
}

/// Environment variable that overrides `[auth] token` and `token_file`.
pub const TOKEN_ENV: &str = "LAKEHOUSE_AUTH_TOKEN";

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path, env: &dyn Env) -> Result<LoadedConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path, env)
    }

    /// Parses and validates config text; `path` is used for messages and relative `token_file`s.
    pub fn from_toml(text: &str, path: &Path, env: &dyn Env) -> Result<LoadedConfig, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate()?;
        let token = resolve_token(&config.auth, env)?;
        let clients = crate::clients::resolve(&config.auth.clients, token.as_deref(), env)?;
        let audit = Some(config.auth.audit_log.clone()).filter(|p| !p.as_os_str().is_empty());
        let auth = AuthPolicy::from_config(token, &config.auth.allowed_ips)?
            .with_clients(clients)
            .with_audit_log(audit);
        Ok(LoadedConfig { config, auth })
    }

    /// Checks every URL, bind address and number, naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let g = &self.gateway;
        parse_bind("gateway.bind", &g.bind)?;
        for (k, v) in [
            ("gateway.storaged_url", &g.storaged_url),
            ("gateway.catalogd_url", &g.catalogd_url),
            ("gateway.ingestd_url", &g.ingestd_url),
            ("gateway.queryd_url", &g.queryd_url),
            ("gateway.vectord_url", &g.vectord_url),
            ("ingestd.catalogd_url", &self.ingestd.catalogd_url),
            ("queryd.catalogd_url", &self.queryd.catalogd_url),
            ("queryd.vectord_url", &self.queryd.vectord_url),
            ("vectord.catalogd_url", &self.vectord.catalogd_url),
        ] {
            if v.0.is_empty() {
                return Err(ConfigError::invalid(k, "expected at least one URL"));
            }
            for u in &v.0 {
                parse_url(k, u)?;
            }
        }
        for (k, v) in [
            ("catalogd.storaged_url", &self.catalogd.storaged_url),
            ("ingestd.storaged_url", &self.ingestd.storaged_url),
            ("queryd.storaged_url", &self.queryd.storaged_url),
            ("vectord.storaged_url", &self.vectord.storaged_url),
            ("materializer.gateway_url", &self.materializer.gateway_url),
            ("replay.gateway_url", &self.replay.gateway_url),
        ] {
            parse_url(k, v)?;
        }
        if self.vectord.shards == 0 || self.vectord.shard >= self.vectord.shards {
            return Err(ConfigError::invalid(
                "vectord.shard",
                format!(
                    "shard {} of {}: shards is at least 1 and shard counts from 0 below it",
                    self.vectord.shard, self.vectord.shards
                ),
            ));
        }
        if self.catalogd.lease_ms != 0 && self.catalogd.lease_ms < 400 {
            return Err(ConfigError::invalid(
                "catalogd.lease_ms",
                "a lease shorter than 400 ms cannot be renewed in time; 0 turns it off",
            ));
        }
        for (k, v) in [
            ("storaged.bind", &self.storaged.bind),
            ("catalogd.bind", &self.catalogd.bind),
            ("ingestd.bind", &self.ingestd.bind),
            ("queryd.bind", &self.queryd.bind),
            ("vectord.bind", &self.vectord.bind),
        ] {
            parse_bind(k, v)?;
        }
        for (k, v) in [("chat.url", &self.chat.url), ("embed.url", &self.embed.url)] {
            if let Some(v) = v {
                parse_url(k, v)?;
            }
        }
        if !matches!(self.embed.provider.as_str(), "hash" | "openai") {
            return Err(ConfigError::invalid(
                "embed.provider",
                "expected \"hash\" or \"openai\"",
            ));
        }
        if self.embed.provider == "openai" && self.embed.url.is_none() {
            return Err(ConfigError::invalid(
                "embed.url",
                "required when embed.provider = \"openai\"",
            ));
        }
        self.validate_storaged()?;
        for (k, v) in [
            ("embed.dimension", self.embed.dimension as u64),
            ("embed.batch_size", self.embed.batch_size as u64),
            ("embed.timeout_ms", self.embed.timeout_ms),
            ("embed.attempts", u64::from(self.embed.attempts)),
            ("chat.timeout_ms", self.chat.timeout_ms),
            ("chat.attempts", u64::from(self.chat.attempts)),
            (
                "materializer.max_rows_per_object",
                self.materializer.max_rows_per_object as u64,
            ),
            ("replay.k", self.replay.k as u64),
            ("replay.budget_tokens", self.replay.budget_tokens as u64),
            ("replay.max_tokens", u64::from(self.replay.max_tokens)),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(k, "must be greater than 0"));
            }
        }
        if self.embed.dimension > 4096 {
            return Err(ConfigError::invalid("embed.dimension", "at most 4096"));
        }
        if self.replay.k > 1000 {
            return Err(ConfigError::invalid("replay.k", "at most 1000"));
        }
        let c = &self.common;
        for (k, v) in [
            ("common.header_read_timeout_ms", c.header_read_timeout_ms),
            ("common.request_timeout_ms", c.request_timeout_ms),
            ("gateway.upstream_timeout_ms", g.upstream_timeout_ms),
            ("gateway.connect_timeout_ms", g.connect_timeout_ms),
            ("gateway.health_interval_ms", g.health_interval_ms),
            ("ingestd.max_upload_bytes", self.ingestd.max_upload_bytes),
            (
                "ingestd.max_concurrent_ingests",
                self.ingestd.max_concurrent_ingests as u64,
            ),
            ("ingestd.memory_limit_mb", self.ingestd.memory_limit_mb),
            (
                "ingestd.transfer_timeout_ms",
                self.ingestd.transfer_timeout_ms,
            ),
            ("queryd.cache_max_bytes", self.queryd.cache_max_bytes),
            ("queryd.query_timeout_ms", self.queryd.query_timeout_ms),
            (
                "queryd.max_concurrent_queries",
                self.queryd.max_concurrent_queries as u64,
            ),
            ("queryd.default_max_rows", self.queryd.default_max_rows),
            ("queryd.memory_limit_mb", self.queryd.memory_limit_mb),
            ("vectord.log_timeout_ms", self.vectord.log_timeout_ms),
            ("vectord.snapshot_part_mb", self.vectord.snapshot_part_mb),
            ("catalogd.keep_versions", self.catalogd.keep_versions),
            ("catalogd.checkpoint_every", self.catalogd.checkpoint_every),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(k, "must be greater than 0"));
            }
        }
        let days = self.catalogd.keep_days;
        if !days.is_finite() || !(0.0..=36_500.0).contains(&days) {
            return Err(ConfigError::invalid(
                "catalogd.keep_days",
                "must be a number of days from 0 to 36500",
            ));
        }
        let loc = &self.catalogd.iceberg.location;
        if !(loc.is_empty() || loc.starts_with("file:///") || loc.starts_with("s3://")) {
            return Err(ConfigError::invalid(
                "catalogd.iceberg.location",
                "must start with file:/// (an absolute directory) or s3:// (a bucket)",
            ));
        }
        if self.vectord.snapshot_part_mb > 256 {
            return Err(ConfigError::invalid(
                "vectord.snapshot_part_mb",
                "must be at most 256 (storaged's object cap)",
            ));
        }
        if c.tls_cert.is_some() != c.tls_key.is_some() {
            return Err(ConfigError::invalid(
                if c.tls_cert.is_some() {
                    "common.tls_key"
                } else {
                    "common.tls_cert"
                },
                "tls_cert and tls_key go together: set both to listen with TLS, or neither",
            ));
        }
        if c.max_connections == 0 {
            return Err(ConfigError::invalid(
                "common.max_connections",
                "must be greater than 0",
            ));
        }
        Ok(())
    }

    fn validate_storaged(&self) -> Result<(), ConfigError> {
        let s = &self.storaged;
        if s.backend == Backend::S3 {
            let p = &s.prefix;
            if !p.is_empty() && (!p.ends_with('/') || p.starts_with('/') || p.contains("//")) {
                return Err(ConfigError::invalid(
                    "storaged.prefix",
                    "must be empty or a path like \"fleet-a/\": ending in '/', not starting with one",
                ));
            }
            if s.bucket.is_empty() {
                return Err(ConfigError::invalid(
                    "storaged.bucket",
                    "required when backend = \"s3\"",
                ));
            }
            if let Some(ep) = &s.endpoint {
                parse_url("storaged.endpoint", ep)?;
            }
            if s.multipart_part_bytes < 5 << 20 {
                return Err(ConfigError::invalid(
                    "storaged.multipart_part_bytes",
                    "S3 parts must be at least 5 MiB (5242880)",
                ));
            }
        } else if s.root.as_os_str().is_empty() {
            return Err(ConfigError::invalid("storaged.root", "must not be empty"));
        }
        if s.max_concurrent_uploads == 0 {
            return Err(ConfigError::invalid(
                "storaged.max_concurrent_uploads",
                "must be at least 1",
            ));
        }
        if s.max_object_bytes == 0 {
            return Err(ConfigError::invalid(
                "storaged.max_object_bytes",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

/// A parsed and validated config with the auth policy resolved.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file's contents.
    pub config: Config,
    /// Token (after env and file overrides) and allowlist.
    pub auth: AuthPolicy,
}

fn resolve_token(auth: &AuthConfig, env: &dyn Env) -> Result<Option<String>, ConfigError> {
    if let Some(t) = env.var(TOKEN_ENV) {
        return Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
    }
    if let Some(path) = &auth.token_file {
        let raw = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::invalid(
                "auth.token_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let t = raw.trim_end_matches(['\n', '\r']).to_owned();
        if t.is_empty() {
            return Err(ConfigError::invalid(
                "auth.token_file",
                format!("{} is empty", path.display()),
            ));
        }
        return Ok(Some(t));
    }
    Ok(Some(auth.token.clone()).filter(|t| !t.is_empty()))
}

/// Parses a listen address, naming `key` on failure.
pub fn parse_bind(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("\"{v}\" is not an address like 127.0.0.1:3211"),
        )
    })
}

/// Parses an http(s) URL with a host, naming `key` on failure.
pub fn parse_url(key: &str, v: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(v)
        .map_err(|e| ConfigError::invalid(key, format!("\"{v}\" is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            key,
            format!("\"{v}\": scheme must be http or https"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(key, format!("\"{v}\" has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            key,
            format!("\"{v}\" must not have a query or fragment"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"), &no_env)
    }

    #[test]
    fn shipped_file_parses() {
        let text = include_str!("../../../lakehouse.toml");
        let c = load(text).unwrap();
        assert_eq!(c.config.storaged.backend, Backend::Fs);
        assert!(c.auth.token().is_none());
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load("[storaged]\nbindd = \"127.0.0.1:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bindd"), "{e}");
        let e = load("[nonsense]\nx = 1\n").unwrap_err().to_string();
        assert!(e.contains("nonsense"), "{e}");
    }

    #[test]
    fn bad_url_and_bind_are_named() {
        let e = load("[gateway]\nqueryd_url = \"not a url\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gateway.queryd_url"), "{e}");
        let e = load("[gateway]\nqueryd_url = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gateway.queryd_url"), "{e}");
        let e = load("[storaged]\nbind = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("storaged.bind"), "{e}");
        let e = load("[storaged]\nbackend = \"s3\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("storaged.bucket"), "{e}");
        for bad in ["fleet-a", "/fleet-a/", "a//b/"] {
            let e = load(&format!(
                "[storaged]\nbackend = \"s3\"\nbucket = \"b\"\nprefix = \"{bad}\"\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("storaged.prefix"), "{bad}: {e}");
        }
        assert!(load("[storaged]\nbackend = \"s3\"\nbucket = \"b\"\nprefix = \"a/b/\"\n").is_ok());
        let e = load("[catalogd.iceberg]\nlocation = \"/srv/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("catalogd.iceberg.location"), "{e}");
        let e = load("[catalogd.iceberg]\nlocaton = \"file:///srv/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("locaton"), "{e}");
        let e = load("[storaged]\nbackend = \"ceph\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("backend"), "{e}");
    }

    #[test]
    fn token_precedence_env_then_file_then_inline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let text = format!(
            "[auth]\ntoken = \"inline\"\ntoken_file = {:?}\n",
            file.to_str().unwrap()
        );
        let env = |k: &str| (k == TOKEN_ENV).then(|| "from-env".to_owned());
        let c = Config::from_toml(&text, Path::new("t"), &env).unwrap();
        assert_eq!(c.auth.token(), Some("from-env"));
        let c = Config::from_toml(&text, Path::new("t"), &no_env).unwrap();
        assert_eq!(c.auth.token(), Some("from-file"));
        let c = load("[auth]\ntoken = \"inline\"\n").unwrap();
        assert_eq!(c.auth.token(), Some("inline"));
        std::fs::write(&file, "\n").unwrap();
        let e = Config::from_toml(&text, Path::new("t"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.token_file"), "{e}");
    }

    #[test]
    fn debug_redacts_token() {
        let c = load("[auth]\ntoken = \"sekrit\"\n").unwrap();
        assert!(!format!("{:?}", c.config.auth).contains("sekrit"));
        assert!(!format!("{:?}", c.auth).contains("sekrit"));
    }
}
