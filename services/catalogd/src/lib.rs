//! catalogd: the HTTP face of the catalog (`lakehouse-catalog`): dataset manifests, their
//! versions and history, rollback and garbage collection, every commit durable in object
//! storage before any 2xx.
//!
//! Layout: [`objects`] is storaged as the catalog's store; [`handlers`] the routes;
//! [`iceberg`] the Iceberg REST catalog's read side; [`error`] the one mapping from catalog errors to statuses; this file wires the router and
//! the service's life (the catalog loads in the background, retrying until storage answers,
//! `/ready` says 503 until then; with a lease, only while this instance holds it, and a
//! standby marks its answers; collection runs on a timer).

pub mod error;
pub mod handlers;
pub mod iceberg;
pub mod objects;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use lakehouse_client::{ServiceClient, StorageClient};
use lakehouse_common::config::Backend;
use lakehouse_common::server::{BoxFuture, ReadyCheck};
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, layers, metrics, serve};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use lakehouse_catalog::{Catalog, LeaseSettings, Role};

/// The catalog over storaged.
pub type Cat = Catalog<objects::StorageObjects>;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Register and append bodies are capped at this size.
pub const MAX_MANIFEST_BODY: u64 = 4 << 20;

struct CatalogReady {
    catalog: Arc<Cat>,
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
            .map(|s| format!("skipped catalog record {s}"))
            .collect()
    }
}

fn write_routes() -> OpenApiRouter<Arc<Cat>> {
    OpenApiRouter::new()
        .routes(routes!(handlers::register))
        .routes(routes!(handlers::append))
        .routes(routes!(handlers::commit_index))
        .routes(routes!(handlers::rollback))
}

fn read_routes() -> OpenApiRouter<Arc<Cat>> {
    OpenApiRouter::new()
        .routes(routes!(handlers::get_manifest, handlers::delete_manifest))
        .routes(routes!(handlers::history))
        .routes(routes!(handlers::list))
        .routes(routes!(handlers::version))
        .routes(routes!(handlers::log))
        .routes(routes!(handlers::index_at))
        .routes(routes!(handlers::gc))
}

/// The routes, over `catalog`; the Iceberg REST routes when `iceberg` is given.
pub fn router(catalog: Arc<Cat>, iceberg: Option<iceberg::RestState>) -> Router {
    let writes = write_routes()
        .split_for_parts()
        .0
        .with_state(catalog.clone());
    let reads = read_routes().split_for_parts().0.with_state(catalog);
    let routes = layers::body_limit(writes, MAX_MANIFEST_BODY).merge(reads);
    match iceberg {
        Some(state) => routes.merge(iceberg::router(state)),
        None => routes,
    }
}

/// The OpenAPI document of [`router`]'s routes (with the Iceberg ones), from the same
/// registrations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = write_routes().into_openapi();
    doc.merge(read_routes().into_openapi());
    doc.merge(iceberg::openapi());
    doc
}

/// The app and its catalog (not yet loaded: call [`Catalog::load`]).
pub fn app(loaded: &LoadedConfig) -> Result<(Router, Arc<Cat>), RunError> {
    let c = &loaded.config;
    let storage = ServiceClient::new(&c.catalogd.storaged_url, loaded.auth.token())?;
    let mut settings = settings(&c.catalogd);
    settings.iceberg_root = iceberg_root(c)?;
    let catalog = Arc::new(Catalog::new(
        objects::StorageObjects(StorageClient::new(storage.clone())),
        settings,
    ));
    let rest = catalog.iceberg_root().is_ok().then(|| iceberg::RestState {
        catalog: catalog.clone(),
        storage: reader_storage(c),
    });
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
            "Catalog records skipped at load as corrupt or invalid.",
            "",
            for_metrics.skipped().len(),
        );
    });
    let routes = layers::timeout(router(catalog.clone(), rest), ctx.request_timeout);
    let app = lakehouse_common::app(&ctx, routes).layer(axum::middleware::from_fn_with_state(
        catalog.clone(),
        name_the_standby,
    ));
    Ok((app, catalog))
}

/// Marks every answer of a standby, so the gateway and the services' clients move on to the
/// leader instead of reporting its 503.
async fn name_the_standby(
    axum::extract::State(catalog): axum::extract::State<Arc<Cat>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    if matches!(catalog.role(), Role::Standby { .. }) {
        res.headers_mut().insert(
            lakehouse_client::ROLE_HEADER,
            axum::http::HeaderValue::from_static("standby"),
        );
    }
    res
}

/// The lease settings of `[catalogd]`; `None` when the lease is off.
pub fn lease_settings(c: &lakehouse_common::config::CatalogdConfig) -> Option<LeaseSettings> {
    if c.lease_ms == 0 {
        return None;
    }
    let holder = if c.instance_name.is_empty() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        format!("{host}:{}", c.bind)
    } else {
        c.instance_name.clone()
    };
    Some(LeaseSettings {
        holder,
        duration: Duration::from_millis(c.lease_ms),
    })
}

/// Serves catalogd on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let (app, catalog) = app(&loaded)?;
    let for_loader = catalog.clone();
    let lease = lease_settings(&loaded.config.catalogd);
    let loader = tokio::spawn(async move {
        match lease {
            Some(lease) => for_loader.run_leased(lease).await,
            None => for_loader.run_loader().await,
        }
    });
    let for_publisher = catalog.clone();
    let publisher = tokio::spawn(async move { for_publisher.run_publisher().await });
    let interval = Duration::from_secs(loaded.config.catalogd.gc_interval_minutes * 60);
    let collector = tokio::spawn(async move { collect_every(&catalog, interval).await });
    let result = serve(listener, app, (&loaded.config.common).into(), shutdown).await;
    loader.abort();
    publisher.abort();
    collector.abort();
    result?;
    Ok(())
}

/// The catalog's settings from `[catalogd]`.
pub fn settings(c: &lakehouse_common::config::CatalogdConfig) -> lakehouse_catalog::Settings {
    lakehouse_catalog::Settings {
        keep_versions: usize::try_from(c.keep_versions).unwrap_or(usize::MAX),
        keep_for: Duration::from_secs_f64(c.keep_days * 86_400.0),
        gc_grace: Duration::from_secs(c.gc_grace_seconds),
        checkpoint_every: c.checkpoint_every,
        ..lakehouse_catalog::Settings::default()
    }
}

/// Where Iceberg locations start: `[catalogd.iceberg] location`, else `[storaged]`'s root
/// (absolute, as a `file://` URL) or bucket; `None` when Iceberg is off.
fn iceberg_root(c: &lakehouse_common::Config) -> Result<Option<String>, RunError> {
    let ice = &c.catalogd.iceberg;
    if !ice.enabled {
        return Ok(None);
    }
    if !ice.location.is_empty() {
        return Ok(Some(ice.location.trim_end_matches('/').to_owned()));
    }
    Ok(Some(match c.storaged.backend {
        Backend::S3 => format!(
            "s3://{}/{}",
            c.storaged.bucket,
            c.storaged.prefix.trim_end_matches('/')
        )
        .trim_end_matches('/')
        .to_owned(),
        Backend::Fs => {
            let root = std::path::absolute(&c.storaged.root).map_err(|e| -> RunError {
                format!("catalogd.iceberg: cannot make storaged.root absolute: {e}").into()
            })?;
            format!(
                "file://{}",
                root.display().to_string().trim_end_matches('/')
            )
        }
    }))
}

/// The storage settings an Iceberg reader needs besides its own credentials.
fn reader_storage(c: &lakehouse_common::Config) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if c.storaged.backend != Backend::S3 && !c.catalogd.iceberg.location.starts_with("s3://") {
        return m;
    }
    let ice = &c.catalogd.iceberg;
    let pick = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_owned()
        } else {
            a.to_owned()
        }
    };
    let endpoint = pick(
        &ice.s3_endpoint,
        c.storaged.endpoint.as_deref().unwrap_or(""),
    );
    if !endpoint.is_empty() {
        m.insert("s3.endpoint".into(), endpoint.into());
    }
    m.insert(
        "s3.region".into(),
        pick(&ice.s3_region, &c.storaged.region).into(),
    );
    m.insert(
        "s3.path-style-access".into(),
        c.storaged.path_style.to_string().into(),
    );
    m
}

/// Runs a collection every `interval` (never, when it is zero).
async fn collect_every(catalog: &Cat, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(interval).await;
        if catalog.not_ready().is_some() {
            continue;
        }
        if let Err(e) = catalog.gc().await {
            tracing::warn!(error = %e, "scheduled garbage collection failed");
        }
    }
}
