//! ingestd: `POST /ingest?name=…&mode=replace|append` takes a CSV upload (multipart field
//! `file`) and makes it a zstd Parquet object in storage, registered in the catalog.
//!
//! Layout: [`upload`] streams the upload to a temp file while [`scan`] checks it and
//! [`infer`] types its columns; [`conform`] fits an append to its dataset's types; [`convert`] writes Parquet with DuckDB; [`ingest`] runs the
//! whole call and cleans up after failures; this file wires the router and the service.

pub mod conform;
pub mod convert;
pub mod figures;
pub mod infer;
pub mod ingest;
pub mod scan;
pub mod upload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Multipart, RawQuery, State};
use axum::response::Json;
use lakehouse_client::{CatalogClient, ServiceClient, StorageClient};
use lakehouse_common::server::BoxFuture;
use lakehouse_common::startup::RunError;
use lakehouse_common::{ApiError, LoadedConfig, ServiceContext, layers, serve};
use lakehouse_types::{ErrorBody, IngestResponse};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use ingest::{Ingestor, Mode, Params};

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Room for multipart framing and other small fields on top of the file cap.
const MULTIPART_SLACK: u64 = 1 << 20;

/// The query of `POST /ingest` (parsed strictly by [`Params::parse`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Describes the query for the document; `Params::parse` reads it.
struct IngestQuery {
    /// Dataset name: letters, digits, `_`, `-`, `.`; at most 128 bytes.
    name: String,
    /// `replace` (default) makes the file the whole dataset; `append` adds it.
    #[param(pattern = "^(replace|append)$")]
    mode: Option<String>,
    /// One ASCII character, or `tab` (default `,`).
    delimiter: Option<String>,
    /// Whether the first row names the columns (default true).
    header: Option<bool>,
}

/// The multipart body of `POST /ingest`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the body for the document; the handler streams it.
struct IngestUpload {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `POST /ingest`: a CSV file becomes (or joins) a Parquet dataset in the catalog.
#[utoipa::path(post, path = "/ingest", tag = "ingest", params(IngestQuery),
    request_body(content = IngestUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Ingested, or the same bytes were already there (`existing`)", body = IngestResponse),
        (status = 400, description = "`bad_request`, `invalid_name`, `bad_multipart`, `missing_file`, `invalid_csv`", body = ErrorBody),
        (status = 409, description = "`schema_mismatch`: an append whose columns differ", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`insufficient_memory`, `storage_unavailable`, `catalog_unavailable`", body = ErrorBody),
    ))]
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
    let result = ing.ingest(params, multipart, started).await;
    ing.figures.outcome(match &result {
        Ok(r) if r.existing => "existing",
        Ok(_) => "ingested",
        Err(e) => e.code.as_ref(),
    });
    result.map(Json)
}

fn ingest_routes() -> OpenApiRouter<Arc<Ingestor>> {
    OpenApiRouter::new().routes(routes!(ingest_route))
}

/// The OpenAPI document of the ingest route, from the same registration.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ingest_routes().into_openapi()
}

/// The app and its state.
pub fn app(loaded: &LoadedConfig) -> Result<Router, RunError> {
    let c = &loaded.config;
    let cfg = &c.ingestd;
    let token = loaded.auth.token();
    let storage = ServiceClient::new(&cfg.storaged_url, token)?;
    let catalog = ServiceClient::any_of(
        &cfg.catalogd_url.0,
        token,
        lakehouse_client::default_http_client(Duration::from_secs(2)),
    )?;
    std::fs::create_dir_all(&cfg.tmp_dir).map_err(|e| {
        format!(
            "ingestd.tmp_dir: cannot create {}: {e}",
            cfg.tmp_dir.display()
        )
    })?;
    let deps = Arc::new(vec![
        ("storaged", storage.clone()),
        ("catalogd", catalog.clone()),
    ]);
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
    let ingestor = Arc::new(Ingestor::new(
        StorageClient::new(storage),
        CatalogClient::new(catalog),
        cfg.tmp_dir.clone(),
        cfg.max_upload_bytes,
        convert::Limits {
            threads: cfg.threads,
            memory_limit_mb: cfg.memory_limit_mb,
        },
        cfg.max_concurrent_ingests,
        figures::Figures::register(&ctx.metrics),
    ));
    let routes = ingest_routes().split_for_parts().0.with_state(ingestor);
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
