//! storaged: object GET/PUT/HEAD/DELETE/LIST over a local directory (`fs`) or an S3 bucket.
//!
//! Layout: [`state`] holds the store, the upload slots and counters; [`handlers`] one module
//! per operation; [`error`] maps storage conditions to HTTP answers; this file wires the
//! router and the service's life.

pub mod error;
pub mod handlers;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use lakehouse_common::config::{Backend, Env, StoragedConfig};
use lakehouse_common::server::{BoxFuture, ReadyCheck};
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, layers, serve};
use lakehouse_storage::{FsStore, ObjectStore, S3Settings, S3Store};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::AppState;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the configured backend. S3 credentials come from the standard AWS variables.
pub fn build_store(cfg: &StoragedConfig, env: &dyn Env) -> Result<Arc<dyn ObjectStore>, RunError> {
    match cfg.backend {
        Backend::Fs => Ok(Arc::new(FsStore::open(&cfg.root).map_err(|e| {
            format!("storaged.root: cannot use {}: {e}", cfg.root.display())
        })?)),
        Backend::S3 => {
            let need = |k: &str| {
                env.var(k)
                    .ok_or_else(|| format!("backend = \"s3\" needs the {k} environment variable"))
            };
            let settings = S3Settings {
                endpoint: cfg.endpoint.clone(),
                region: cfg.region.clone(),
                bucket: cfg.bucket.clone(),
                prefix: cfg.prefix.clone(),
                path_style: cfg.path_style,
                part_size: cfg.multipart_part_bytes,
                access_key_id: need("AWS_ACCESS_KEY_ID")?,
                secret_access_key: need("AWS_SECRET_ACCESS_KEY")?,
                session_token: env.var("AWS_SESSION_TOKEN"),
                connect_timeout: Duration::from_secs(3),
                attempt_timeout: Duration::from_secs(60),
            };
            Ok(Arc::new(S3Store::new(&settings)))
        }
    }
}

fn object_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        handlers::put::put_object,
        handlers::get::get_object,
        handlers::get::head_object,
        handlers::delete::delete_object
    ))
}

fn list_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handlers::list::list_objects))
}

/// storaged's own routes, with their body caps and timeouts.
pub fn router(state: AppState, common_timeout: Duration) -> Router {
    let transfer = state.limits.transfer_timeout;
    let objects = object_routes()
        .split_for_parts()
        .0
        // An empty key is refused as such, not as an unknown route.
        .route(
            "/storage/objects/",
            get(handlers::empty_key).put(handlers::empty_key),
        )
        .with_state(state.clone());
    let list = list_routes().split_for_parts().0.with_state(state);
    layers::timeout(objects, transfer).merge(layers::timeout(list, common_timeout))
}

/// The OpenAPI document of [`router`]'s routes, from the same registrations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = object_routes().into_openapi();
    doc.merge(list_routes().into_openapi());
    doc
}

struct StoreReady(Arc<dyn ObjectStore>);

impl ReadyCheck for StoreReady {
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            match self.0.check().await {
                Ok(()) => Vec::new(),
                Err(e) => vec![format!("{} backend: {e}", self.0.backend_name())],
            }
        })
    }
}

/// The complete app for a store: shared routes, auth, metrics and storaged's routes.
pub fn app(loaded: &LoadedConfig, store: Arc<dyn ObjectStore>) -> Router {
    let cfg = &loaded.config;
    let ctx = ServiceContext::new(
        "storaged",
        VERSION,
        loaded.auth.clone(),
        Arc::new(StoreReady(store.clone())),
        &cfg.common,
    );
    let state = AppState::new(store, &cfg.storaged);
    let stats = state.clone();
    ctx.metrics
        .add_collector(move |out| stats.render_metrics(out));
    lakehouse_common::app(&ctx, router(state, ctx.request_timeout))
}

/// Serves storaged on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let store = build_store(
        &loaded.config.storaged,
        &lakehouse_common::config::ProcessEnv,
    )?;
    tracing::info!(backend = store.backend_name(), "storage backend ready");
    let app = app(&loaded, store);
    serve(listener, app, (&loaded.config.common).into(), shutdown).await?;
    Ok(())
}
