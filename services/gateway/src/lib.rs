//! gateway: the one public edge. `/v1/<service>/...` is forwarded to that service with `/v1`
//! stripped and the upstream's base path joined; bodies stream both ways; auth and request
//! ids are applied here first.
//!
//! Layout: [`upstreams`] is the routing table (data from config); [`proxy`] forwards one
//! request; [`instances`] balances a service's instances and [`shards`] routes to vectord's
//! index owners; this file builds the router, the readiness check and the service's life.

pub mod console;
pub mod figures;
pub mod fleet_health;
pub mod instances;
pub mod openapi;
pub mod proxy;
pub mod shards;
pub mod upstreams;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use lakehouse_client::ServiceClient;
use lakehouse_common::config::{Env, ProcessEnv};
use lakehouse_common::server::{BoxFuture, ReadyCheck};
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, serve};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::proxy::ProxyState;
use crate::upstreams::Upstream;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Ready when every required upstream has an instance that answers `/health`.
struct UpstreamsReady(Vec<fleet_health::Probe>);

impl ReadyCheck for UpstreamsReady {
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let rid = lakehouse_common::request_id::current()
                .unwrap_or_else(lakehouse_common::request_id::generate);
            let mut reasons = Vec::new();
            for name in self
                .0
                .iter()
                .map(|p| p.service)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let of: Vec<(&'static str, ServiceClient)> = self
                    .0
                    .iter()
                    .filter(|p| p.service == name)
                    .map(|p| (p.service, p.client.clone()))
                    .collect();
                let down = lakehouse_client::unhealthy(&of, &rid).await;
                if down.len() == of.len() {
                    reasons.extend(down);
                }
            }
            reasons
        })
    }
}

/// The complete gateway app for a config, reading secrets from `env`.
pub fn app(loaded: &LoadedConfig, env: &dyn Env) -> Result<Router, RunError> {
    let cfg = &loaded.config;
    let token = loaded.auth.token();
    let http = lakehouse_client::http_builder()
        .connect_timeout(Duration::from_millis(cfg.gateway.connect_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build()?;
    let tls = lakehouse_common::tls::client_config(cfg.common.tls_ca.as_deref())?;
    let forward =
        proxy::upstream_client(Duration::from_millis(cfg.gateway.connect_timeout_ms), tls);
    let table = upstreams::table(
        cfg,
        token,
        env.var("LAKEHOUSE_CHAT_API_KEY"),
        env.var("LAKEHOUSE_EMBED_API_KEY"),
    );
    let interval = Duration::from_millis(cfg.gateway.health_interval_ms);
    let mut probes = Vec::new();
    for up in table.iter().filter(|u| u.required) {
        for (i, base) in up.instances.bases.iter().enumerate() {
            probes.push(fleet_health::Probe {
                service: up.name,
                instance: i,
                client: ServiceClient::with_http(base, token, http.clone())?,
                every_instance: up.placement == upstreams::Placement::ByIndexName,
            });
        }
        if up.instances.bases.len() > 1 && up.placement == upstreams::Placement::Balanced {
            instances::watch(up.name, up.instances.clone(), http.clone(), interval);
        }
    }
    let fleet = fleet_health::FleetProbes {
        services: Arc::new(probes.clone()),
    };
    let ctx = ServiceContext::new(
        "gateway",
        VERSION,
        loaded.auth.clone(),
        Arc::new(UpstreamsReady(probes)),
        &cfg.common,
    );
    let timeout = Duration::from_millis(cfg.gateway.upstream_timeout_ms);
    let figures = figures::Figures::register(&ctx.metrics);
    let scheme = if cfg.common.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let own = own_routes().split_for_parts().0.with_state(fleet);
    let api = router(table, &forward, timeout, scheme, &figures).merge(own);
    // The console's static files sit outside the authenticated app: they hold no data.
    Ok(console::router().merge(lakehouse_common::app(&ctx, api)))
}

/// The routes the gateway answers itself under `/v1`.
fn own_routes() -> OpenApiRouter<fleet_health::FleetProbes> {
    OpenApiRouter::new()
        .routes(routes!(fleet_health::fleet_health))
        .routes(routes!(openapi::openapi_json))
}

/// The `/v1` routes for a routing table.
pub fn router(
    table: Vec<Upstream>,
    http: &proxy::UpstreamClient,
    timeout: Duration,
    scheme: &'static str,
    figures: &figures::Figures,
) -> Router {
    let mut router = Router::new();
    for up in table {
        let state = ProxyState {
            upstream: Arc::new(up),
            http: http.clone(),
            timeout,
            scheme,
            figures: figures.clone(),
        };
        for route in state.upstream.routes {
            router = router.route(route, any(proxy::forward).with_state(state.clone()));
        }
    }
    // axum's own body limit would buffer-check every body; the proxy counts instead.
    router.layer(axum::extract::DefaultBodyLimit::disable())
}

/// Serves the gateway on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let app = app(&loaded, &ProcessEnv)?;
    serve(listener, app, (&loaded.config.common).into(), shutdown).await?;
    Ok(())
}
