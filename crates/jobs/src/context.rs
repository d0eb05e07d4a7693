//! A batch job's view of the world: its config, the gateway's clients and its request ids.

use std::path::Path;
use std::time::Duration;

use lakehouse_client::Gateway;
use lakehouse_common::config::{Config, ProcessEnv};

/// Config plus clients, built once per run.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The whole configuration.
    pub config: Config,
    /// Every client, through the gateway.
    pub gateway: Gateway,
    /// The shared connection pool.
    pub http: reqwest::Client,
    job: &'static str,
}

/// Why a job could not start.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The config file is missing or wrong.
    #[error("{0}")]
    Config(String),
    /// The gateway URL is unusable.
    #[error("{0}")]
    Client(#[from] lakehouse_client::ClientError),
}

impl JobContext {
    /// Loads `path` and builds clients for the gateway at `gateway_url(config)`.
    pub fn load(
        job: &'static str,
        path: &Path,
        gateway_url: impl Fn(&Config) -> &str,
    ) -> Result<Self, ContextError> {
        let loaded =
            Config::load(path, &ProcessEnv).map_err(|e| ContextError::Config(e.to_string()))?;
        lakehouse_common::startup::trust_fleet_ca(&loaded.config).map_err(ContextError::Config)?;
        let http = lakehouse_client::http_builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ContextError::Config(format!("HTTP client: {e}")))?;
        let gateway = Gateway::new(
            gateway_url(&loaded.config),
            loaded.auth.token(),
            http.clone(),
        )?;
        Ok(Self {
            config: loaded.config,
            gateway,
            http,
            job,
        })
    }

    /// A fresh request id naming the job, so its calls can be found in the services' logs.
    pub fn rid(&self) -> String {
        format!("{}-{}", self.job, uuid::Uuid::new_v4().simple())
    }
}
