//! queryd: `POST /sql` over every catalog dataset as a DuckDB view, and `GET /sql/tables`.
//!
//! Layout: [`sandbox`] decides what SQL may run; [`cache`] keeps local copies of Parquet
//! objects; [`engine`] is the locked-down DuckDB with its connection pool and time limit;
//! [`views`] keeps views in step with the catalog (read-your-writes); [`output`] encodes
//! answers; [`vector_search`] and [`vector_sql`] are nearest-neighbour search inside SQL; this
//! file wires the routes and the service.

pub mod cache;
pub mod encode;
pub mod engine;
pub mod output;
pub mod sandbox;
pub mod vector_search;
pub mod vector_sql;
pub mod views;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{Json, Response};
use axum::{Extension, Router};
use lakehouse_client::{CatalogClient, ServiceClient, StorageClient};
use lakehouse_common::access::caller;
use lakehouse_common::extract::JsonBody;
use lakehouse_common::server::BoxFuture;
use lakehouse_common::startup::RunError;
use lakehouse_common::{
    ApiError, LoadedConfig, Principal, ServiceContext, layers, metrics, request_id, serve,
};
use lakehouse_types::{ErrorBody, SqlRequest, SqlResponse, TableInfo, TablesResponse};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::engine::{Engine, EngineSettings};
use crate::output::Format;
use crate::views::Views;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `max_rows` above this is refused. Large answers are streamed, so this bounds a client's
/// mistake, not queryd's memory.
pub const MAX_ROWS: u64 = 100_000_000;

/// queryd's state.
#[derive(Debug)]
pub struct Queryd {
    /// The views.
    pub views: Views,
    /// DuckDB.
    pub engine: Arc<Engine>,
    /// Rows when the request names none.
    pub default_max_rows: u64,
    /// What `vector_search` in SQL searches with.
    pub searcher: Option<Arc<vector_search::Searcher>>,
}

fn rid() -> String {
    request_id::current().unwrap_or_else(request_id::generate)
}

/// `POST /sql`: one read-only statement over every dataset, in the format the body's
/// `format` or the `Accept` header asks for.
#[utoipa::path(post, path = "/sql", tag = "sql", request_body = SqlRequest,
    params(("Accept" = Option<String>, Header, description = "Used when the body names no `format`: application/json, application/x-ndjson, text/csv, application/vnd.apache.arrow.stream or application/vnd.apache.parquet (q-values honoured)")),
    responses(
        (status = 200, description = "The result", content(
            (SqlResponse = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
            (String = "application/vnd.apache.arrow.stream"),
            (String = "application/vnd.apache.parquet"),
        ), headers(("x-lakehouse-catalog-version" = u64, description = "The catalog version read"))),
        (status = 400, description = "`empty_sql`, `sql_error`, `forbidden_statement`, `invalid_as_of`, `bad_request`; from `vector_search`: `invalid_argument` (naming it), `index_not_found`, `too_many_searches`", body = ErrorBody),
        (status = 403, description = "`forbidden`: a dataset or index outside the caller's scope", body = ErrorBody),
        (status = 404, description = "`version_not_found`", body = ErrorBody),
        (status = 406, description = "`not_acceptable`: no format the `Accept` header allows", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the SQL text is over the cap", body = ErrorBody),
        (status = 502, description = "`vectord_unavailable`, `embed_unavailable`: a search inside the statement could not be made", body = ErrorBody),
        (status = 504, description = "`query_timeout`", body = ErrorBody),
    ))]
async fn sql(
    State(q): State<Arc<Queryd>>,
    principal: Option<Extension<Principal>>,
    headers: axum::http::HeaderMap,
    JsonBody(req): JsonBody<SqlRequest>,
) -> Result<Response, ApiError> {
    let who = caller(principal);
    let started = Instant::now();
    if req.sql.len() > sandbox::MAX_SQL_BYTES {
        return Err(ApiError::payload_too_large(format!(
            "sql is {} bytes; the limit is {}",
            req.sql.len(),
            sandbox::MAX_SQL_BYTES
        )));
    }
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::choose(req.format.as_deref(), accept)?;
    let max_rows = req.max_rows.unwrap_or(q.default_max_rows);
    if max_rows > MAX_ROWS {
        return Err(ApiError::bad_request(format!(
            "max_rows must be at most {MAX_ROWS}"
        )));
    }
    let wrapped = sandbox::wrap(&req.sql, max_rows + 1)?;
    let identifiers = sandbox::identifiers(&req.sql);
    if who.dataset_scoped() {
        let mut datasets: Vec<String> = q
            .views
            .tables(&rid())
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        if let Some(a) = &req.as_of {
            datasets.extend(q.views.names_at(a, &rid()).await?);
        }
        sandbox::check_scope(&identifiers, &datasets, &who)?;
    }
    let prepared = match &req.as_of {
        None => q.views.prepare(&identifiers, &rid()).await?,
        Some(a) => q.views.prepare_as_of(&identifiers, a, &rid()).await?,
    };
    // Only a statement that may call them gets a search ticket (it lives with the answer).
    let lowered = req.sql.to_ascii_lowercase();
    let ticket = q
        .searcher
        .as_ref()
        .filter(|_| lowered.contains("vector_search") || lowered.contains("embed"))
        .map(|s| {
            let pin = match &req.as_of {
                Some(a) => vector_search::Pin::AsOf(a.clone()),
                None => vector_search::Pin::Answer(prepared.version),
            };
            vector_search::Ticket::issue(s, who.clone(), pin)
        });
    let ticket_id = ticket.as_ref().map(|t| t.0.clone());
    let stream = q
        .engine
        .query(
            wrapped,
            max_rows,
            prepared.temp_views,
            prepared
                .hold
                .map(|h| Box::new(h) as Box<dyn std::any::Any + Send>),
            // The cached objects stay pinned until the last row is read.
            Some(Box::new((prepared.pins, ticket))),
            ticket_id,
        )
        .await
        .map_err(output::query_error)?;
    output::respond(
        stream,
        output::Answer {
            format,
            started,
            catalog_version: prepared.version,
        },
    )
    .await
}

/// `GET /sql/tables`: the views a query can name.
#[utoipa::path(get, path = "/sql/tables", tag = "sql",
    responses((status = 200, description = "One view per dataset the caller may read", body = TablesResponse)))]
async fn tables(
    State(q): State<Arc<Queryd>>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<TablesResponse>, ApiError> {
    let who = caller(principal);
    let tables: Vec<TableInfo> = q
        .views
        .tables(&rid())
        .await?
        .into_iter()
        .filter(|m| who.may_dataset(&m.name))
        .map(|m| TableInfo {
            name: m.name,
            columns: m.schema,
            row_count: m.row_count,
            version: m.version,
        })
        .collect();
    Ok(Json(TablesResponse {
        count: tables.len(),
        tables,
    }))
}

/// The fleet's embedder (`[embed]`), for `embed(text)` and text queries: the same vectors the
/// materializer stored, so queries and documents share a space.
fn embedder(
    cfg: &lakehouse_common::config::EmbedConfig,
) -> Result<Arc<dyn lakehouse_jobs::embed::Embedder>, RunError> {
    use lakehouse_jobs::embed::{hash::HashEmbedder, openai::OpenAiEmbedder};
    Ok(match (cfg.provider.as_str(), &cfg.url) {
        ("openai", Some(url)) => Arc::new(OpenAiEmbedder::new(ServiceClient::new(url, None)?, cfg)),
        _ => Arc::new(HashEmbedder::new(cfg.dimension)),
    })
}

/// The app.
pub fn app(loaded: &LoadedConfig) -> Result<Router, RunError> {
    let c = &loaded.config;
    let cfg = &c.queryd;
    let token = loaded.auth.token();
    let storage = ServiceClient::new(&cfg.storaged_url, token)?;
    let catalog = ServiceClient::any_of(
        &cfg.catalogd_url.0,
        token,
        lakehouse_client::default_http_client(Duration::from_secs(2)),
    )?;
    let cache = cache::Cache::open(
        &cfg.cache_dir,
        cfg.cache_max_bytes,
        StorageClient::new(storage.clone()),
    )
    .map_err(|e| {
        format!(
            "queryd.cache_dir: cannot use {}: {e}",
            cfg.cache_dir.display()
        )
    })?;
    let searcher = Arc::new(vector_search::Searcher {
        vectord: cfg
            .vectord_url
            .0
            .iter()
            .map(|u| ServiceClient::new(u, token))
            .collect::<Result<_, _>>()?,
        embedder: embedder(&c.embed)?,
        max_searches: cfg.max_vector_searches,
        runtime: tokio::runtime::Handle::current(),
    });
    let engine = Arc::new(
        Engine::open(&EngineSettings {
            vector_search: Some(searcher.clone()),
            readable_dir: cache.dir().to_owned(),
            temp_dir: cfg.cache_dir.join("spill"),
            threads: cfg.threads,
            memory_limit_mb: cfg.memory_limit_mb,
            connections: cfg.max_concurrent_queries,
            timeout: Duration::from_millis(cfg.query_timeout_ms),
        })
        .map_err(|e| format!("cannot start DuckDB: {e}"))?,
    );
    let q = Arc::new(Queryd {
        views: Views::new(
            CatalogClient::new(catalog.clone()),
            engine.clone(),
            cache.clone(),
        ),
        engine,
        default_max_rows: cfg.default_max_rows,
        searcher: Some(searcher),
    });
    let deps = Arc::new(vec![("storaged", storage), ("catalogd", catalog)]);
    let ready = move || -> BoxFuture<'static, Vec<String>> {
        let deps = deps.clone();
        Box::pin(async move { lakehouse_client::unhealthy(&deps, &rid()).await })
    };
    let ctx = ServiceContext::new(
        "queryd",
        VERSION,
        loaded.auth.clone(),
        Arc::new(ready),
        &c.common,
    );
    ctx.metrics.add_collector(move |out| {
        let (bytes, objects) = cache.usage();
        let s = &cache.stats;
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_bytes",
            "gauge",
            "Bytes of Parquet held in the local cache.",
            "",
            bytes,
        );
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_objects",
            "gauge",
            "Objects held in the local cache.",
            "",
            objects,
        );
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_hits_total",
            "counter",
            "Object lookups answered from the cache.",
            "",
            s.hits.load(Ordering::Relaxed),
        );
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_misses_total",
            "counter",
            "Objects fetched from storaged.",
            "",
            s.misses.load(Ordering::Relaxed),
        );
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_evictions_total",
            "counter",
            "Objects evicted from the cache.",
            "",
            s.evictions.load(Ordering::Relaxed),
        );
        metrics::write_sample(
            out,
            "lakehouse_queryd_cache_fetched_bytes_total",
            "counter",
            "Bytes fetched from storaged.",
            "",
            s.fetched_bytes.load(Ordering::Relaxed),
        );
    });
    let sql_routes = sql_routes().split_for_parts().0.with_state(q.clone());
    // The cap is on the SQL text; the JSON envelope around it gets a little room.
    let sql_routes = layers::body_limit(sql_routes, (sandbox::MAX_SQL_BYTES + 4096) as u64);
    let routes = sql_routes.merge(table_routes().split_for_parts().0.with_state(q));
    let routes = layers::timeout(routes, ctx.request_timeout);
    Ok(lakehouse_common::app(&ctx, routes))
}

fn sql_routes() -> OpenApiRouter<Arc<Queryd>> {
    OpenApiRouter::new().routes(routes!(sql))
}

fn table_routes() -> OpenApiRouter<Arc<Queryd>> {
    OpenApiRouter::new().routes(routes!(tables))
}

/// The OpenAPI document of queryd's routes, from the same registrations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = sql_routes().into_openapi();
    doc.merge(table_routes().into_openapi());
    doc
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
