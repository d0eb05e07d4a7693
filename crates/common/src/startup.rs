//! What every service binary's `main` does: parse `--config`, load and validate the file,
//! start logging, refuse unsafe binds, bind, and run until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError, LoadedConfig, ProcessEnv, parse_bind};
use crate::telemetry;

/// Command line of every long-running service.
#[derive(Debug, Parser)]
pub struct ServiceArgs {
    /// Path of the configuration file.
    #[arg(long, default_value = "lakehouse.toml")]
    pub config: PathBuf,
}

/// Error type of a service's run function.
pub type RunError = Box<dyn std::error::Error + Send + Sync>;

/// Loads the config named on the command line, printing the problem and the key on failure.
pub fn load_config(service: &str) -> Result<LoadedConfig, ExitCode> {
    let args = ServiceArgs::parse();
    Config::load(&args.config, &ProcessEnv).map_err(|e| {
        eprintln!("{service}: {e}");
        ExitCode::from(2)
    })
}

/// Validates and binds a service's listen address (`bind_key` names it in messages).
pub async fn bind(
    loaded: &LoadedConfig,
    bind_key: &str,
    bind: &str,
) -> Result<TcpListener, RunError> {
    let addr: SocketAddr = parse_bind(bind_key, bind)?;
    loaded.auth.check_bind(bind_key, addr)?;
    TcpListener::bind(addr).await.map_err(|e| -> RunError {
        Box::new(ConfigError::invalid(
            bind_key,
            format!("cannot listen on {addr}: {e}"),
        ))
    })
}

/// The whole life of a service: `select` picks its bind key and address, `run` serves.
pub async fn run_service<F, Fut>(
    service: &'static str,
    select: fn(&Config) -> (&'static str, String),
    run: F,
) -> ExitCode
where
    F: FnOnce(LoadedConfig, TcpListener) -> Fut,
    Fut: Future<Output = Result<(), RunError>>,
{
    let loaded = match load_config(service) {
        Ok(l) => l,
        Err(code) => return code,
    };
    telemetry::init(loaded.config.common.log_format);
    if let Err(e) = trust_fleet_ca(&loaded.config) {
        eprintln!("{service}: {e}");
        return ExitCode::from(2);
    }
    let (key, addr) = select(&loaded.config);
    let listener = match bind(&loaded, key, &addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{service}: {e}");
            tracing::error!(error = %e, "refusing to start");
            return ExitCode::from(2);
        }
    };
    if loaded.auth.token().is_none() {
        tracing::warn!("no auth token set: the service is open to anyone who can reach {addr}");
    }
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
    tracing::info!(service, version = env!("CARGO_PKG_VERSION"), listen = %local, "starting");
    match run(loaded, listener).await {
        Ok(()) => {
            tracing::info!(service, "stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{service}: {e}");
            tracing::error!(error = %e, "stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Makes every client this process builds trust `[common] tls_ca`, when set.
pub fn trust_fleet_ca(config: &Config) -> Result<(), String> {
    let Some(path) = &config.common.tls_ca else {
        return Ok(());
    };
    let pem = std::fs::read(path)
        .map_err(|e| format!("common.tls_ca: cannot read {}: {e}", path.display()))?;
    lakehouse_client::trust_ca_pem(&pem).map_err(|e| format!("common.tls_ca: {e}"))
}
