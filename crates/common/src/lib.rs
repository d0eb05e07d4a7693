//! What every Lakehouse service shares: configuration, auth, the JSON error type, request ids,
//! metrics, logging and the server loop.
//!
//! Layout: [`config`] parses and validates `lakehouse.toml`; [`auth`] authenticates callers
//! (bearer tokens, IP allowlist), [`clients`] resolves named client tokens, [`access`] decides
//! what a caller may do and [`policy`] what a request needs, [`audit`] writes the audit log; [`error`] the `ApiError` every handler returns; [`extract`] body extractors with JSON errors; [`request_id`] the
//! `x-request-id` middleware; [`metrics`] Prometheus exposition; [`layers`] body caps,
//! timeouts and error shaping; [`server`] the shared routes, the middleware stack and
//! `serve`; [`startup`] what a binary's `main` does; [`telemetry`] logging; [`tls`] listening
//! with TLS and the CA clients trust.

pub mod access;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod config;
pub mod error;
pub mod extract;
pub mod layers;
pub mod metric_family;
pub mod metrics;
pub mod policy;
pub mod request_id;
pub mod server;
pub mod startup;
pub mod telemetry;
pub mod tls;

pub use access::{Denied, Principal, Role};
pub use auth::AuthPolicy;
pub use config::{Config, ConfigError, LoadedConfig};
pub use error::ApiError;
pub use metrics::Metrics;
pub use server::{
    AlwaysReady, ReadyCheck, ServeOptions, ServiceContext, app, serve, shutdown_signal,
};
