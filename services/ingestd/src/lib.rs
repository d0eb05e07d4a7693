//! ingestd: `POST /ingest?name=…&mode=replace|append` takes a CSV upload (multipart field
//! `file`) and makes it a zstd Parquet object in storage, registered in the catalog.
//!
//! Layout: [`upload`] streams the upload to a temp file while [`scan`] checks it and
//! [`infer`] types its columns; [`conform`] fits an append to its dataset's types; [`convert`] writes Parquet with DuckDB; [`ingest`] runs the
//! whole call and cleans up after failures; this file wires the router and the service.

pub mod conform;
pub mod convert;
pub mod infer;
pub mod ingest;
pub mod scan;
pub mod upload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Multipart, RawQuery, State};
use axum::response::Json;
use axum::routing::post;
use lakehouse_client::{CatalogClient, ServiceClient, StorageClient};
use lakehouse_common::server::BoxFuture;
use lakehouse_common::startup::RunError;
use lakehouse_common::{ApiError, LoadedConfig, ServiceContext, layers, serve};
use lakehouse_types::IngestResponse;
use tokio::net::TcpListener;

pub use ingest::{Ingestor, Mode, Params};

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Room for multipart framing and other small fields on top of the file cap.
const MULTIPART_SLACK: u64 = 1 << 20;

async fn ingest_route(
    State(ing): State<Arc<Ingestor>>,
    RawQuery(query): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let started = Instant::now();
    let params = Params::parse(query.as_deref())?;
    let multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "expected a multipart/form-data body with a `file` field: {}",
            e.body_text()
        ))
        .with_code("bad_multipart")
    })?;
    ing.ingest(params, multipart, started).await.map(Json)
}

/// The app and its state.
pub fn app(loaded: &LoadedConfig) -> Result<Router, RunError> {
    let c = &loaded.config;
    let cfg = &c.ingestd;
    let token = loaded.auth.token();
    let storage = ServiceClient::new(&cfg.storaged_url, token)?;
    let catalog = ServiceClient::new(&cfg.catalogd_url, token)?;
    std::fs::create_dir_all(&cfg.tmp_dir).map_err(|e| {
        format!(
            "ingestd.tmp_dir: cannot create {}: {e}",
            cfg.tmp_dir.display()
        )
    })?;
    let ingestor = Arc::new(Ingestor::new(
        StorageClient::new(storage.clone()),
        CatalogClient::new(catalog.clone()),
        cfg.tmp_dir.clone(),
        cfg.max_upload_bytes,
        convert::Limits {
            threads: cfg.threads,
            memory_limit_mb: cfg.memory_limit_mb,
        },
        cfg.max_concurrent_ingests,
    ));
    let deps = Arc::new(vec![("storaged", storage), ("catalogd", catalog)]);
    let ready = move || -> BoxFuture<'static, Vec<String>> {
        let deps = deps.clone();
        Box::pin(async move {
            let rid = lakehouse_common::request_id::current()
                .unwrap_or_else(lakehouse_common::request_id::generate);
            lakehouse_client::unhealthy(&deps, &rid).await
        })
    };
    let ctx = ServiceContext::new(
        "ingestd",
        VERSION,
        loaded.auth.clone(),
        Arc::new(ready),
        &c.common,
    );
    let routes = Router::new()
        .route("/ingest", post(ingest_route))
        .with_state(ingestor);
    let routes = layers::body_limit(routes, cfg.max_upload_bytes.saturating_add(MULTIPART_SLACK));
    let routes = layers::timeout(routes, Duration::from_millis(cfg.transfer_timeout_ms));
    Ok(lakehouse_common::app(&ctx, routes))
}

/// Serves ingestd on `listener` until `shutdown` resolves.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let app = app(&loaded)?;
    serve(listener, app, (&loaded.config.common).into(), shutdown).await?;
    Ok(())
}
