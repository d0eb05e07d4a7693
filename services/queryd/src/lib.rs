//! queryd: SQL over the datasets with DuckDB.
//!
//! Not yet implemented: for now the service serves only `/health`, `/ready` (which checks
//! that its dependencies answer) and `/metrics`; every other route is a JSON 404.

use std::sync::Arc;

use axum::Router;
use lakehouse_client::ServiceClient;
use lakehouse_common::server::BoxFuture;
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, serve};
use tokio::net::TcpListener;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The app: shared routes only, ready when the dependencies answer.
pub fn app(loaded: &LoadedConfig) -> Result<Router, RunError> {
    let c = &loaded.config;
    let token = loaded.auth.token();
    let deps = [
        ("storaged", &c.queryd.storaged_url),
        ("catalogd", &c.queryd.catalogd_url),
    ]
    .into_iter()
    .map(|(name, url)| Ok((name, ServiceClient::new(url, token)?)))
    .collect::<Result<Vec<_>, lakehouse_client::ClientError>>()?;
    let deps = Arc::new(deps);
    let ready = move || -> BoxFuture<'static, Vec<String>> {
        let deps = deps.clone();
        Box::pin(async move {
            let rid = lakehouse_common::request_id::current()
                .unwrap_or_else(lakehouse_common::request_id::generate);
            lakehouse_client::unhealthy(&deps, &rid).await
        })
    };
    let ctx = ServiceContext::new(
        "queryd",
        VERSION,
        loaded.auth.clone(),
        Arc::new(ready),
        &c.common,
    );
    Ok(lakehouse_common::app(&ctx, Router::new()))
}

/// Serves queryd on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let app = app(&loaded)?;
    serve(listener, app, (&loaded.config.common).into(), shutdown).await?;
    Ok(())
}
