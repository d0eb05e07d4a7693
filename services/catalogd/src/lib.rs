//! catalogd: dataset manifests (register, append, get, delete, list, version), written
//! through to object storage before any 2xx.
//!
//! Layout: [`store`] reads and writes manifest objects; [`catalog`] holds the manifests and
//! the register/append/delete rules; [`handlers`] the HTTP side; this file wires the router
//! and the service's life (the catalog loads in the background, retrying until storage
//! answers; `/ready` says 503 until then).

pub mod catalog;
pub mod handlers;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use lakehouse_client::{ServiceClient, StorageClient};
use lakehouse_common::server::{BoxFuture, ReadyCheck};
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, layers, metrics, serve};
use tokio::net::TcpListener;

pub use catalog::Catalog;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Register and append bodies are capped at this size.
pub const MAX_MANIFEST_BODY: u64 = 4 << 20;

struct CatalogReady {
    catalog: Arc<Catalog>,
    storage: ServiceClient,
}

impl ReadyCheck for CatalogReady {
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let rid = lakehouse_common::request_id::current()
                .unwrap_or_else(lakehouse_common::request_id::generate);
            let mut reasons =
                lakehouse_client::unhealthy(&[("storaged", self.storage.clone())], &rid).await;
            reasons.extend(self.catalog.not_ready());
            reasons
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.catalog
            .skipped()
            .into_iter()
            .map(|s| format!("skipped manifest {s}"))
            .collect()
    }
}

/// The routes, over `catalog`.
pub fn router(catalog: Arc<Catalog>) -> Router {
    let writes = Router::new()
        .route("/catalog/register", post(handlers::register))
        .route("/catalog/append", post(handlers::append))
        .with_state(catalog.clone());
    let reads = Router::new()
        .route(
            "/catalog/manifest/{name}",
            get(handlers::get_manifest).delete(handlers::delete_manifest),
        )
        .route("/catalog/list", get(handlers::list))
        .route("/catalog/version", get(handlers::version))
        .with_state(catalog);
    layers::body_limit(writes, MAX_MANIFEST_BODY).merge(reads)
}

/// The app and its catalog (not yet loaded: call [`Catalog::load`]).
pub fn app(loaded: &LoadedConfig) -> Result<(Router, Arc<Catalog>), RunError> {
    let c = &loaded.config;
    let storage = ServiceClient::new(&c.catalogd.storaged_url, loaded.auth.token())?;
    let catalog = Catalog::new(store::ManifestStore::new(StorageClient::new(
        storage.clone(),
    )));
    let ready = CatalogReady {
        catalog: catalog.clone(),
        storage,
    };
    let ctx = ServiceContext::new(
        "catalogd",
        VERSION,
        loaded.auth.clone(),
        Arc::new(ready),
        &c.common,
    );
    let for_metrics = catalog.clone();
    ctx.metrics.add_collector(move |out| {
        if let Ok((list, version)) = for_metrics.list() {
            metrics::write_sample(
                out,
                "lakehouse_catalog_datasets",
                "gauge",
                "Datasets in the catalog.",
                "",
                list.len(),
            );
            metrics::write_sample(
                out,
                "lakehouse_catalog_version",
                "gauge",
                "Catalog version counter.",
                "",
                version,
            );
        }
        metrics::write_sample(
            out,
            "lakehouse_catalog_skipped_manifests",
            "gauge",
            "Manifest objects skipped at load as corrupt.",
            "",
            for_metrics.skipped().len(),
        );
    });
    let routes = layers::timeout(router(catalog.clone()), ctx.request_timeout);
    Ok((lakehouse_common::app(&ctx, routes), catalog))
}

/// Serves catalogd on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let (app, catalog) = app(&loaded)?;
    let loader = tokio::spawn(async move { catalog.load().await });
    let result = serve(listener, app, (&loaded.config.common).into(), shutdown).await;
    loader.abort();
    result?;
    Ok(())
}
