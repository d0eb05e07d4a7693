//! vectord: named HNSW vector indexes (the `lakehouse-vector` core) with string ids and JSON
//! metadata, persisted to object storage.
//!
//! Layout: [`registry`] holds the indexes, logs every write before applying it and saves
//! snapshots in the background; [`history`] commits index states to the catalog and
//! searches them as of a version; [`store`] names and moves the objects; [`wal`] encodes log
//! records; [`handlers`] is the HTTP side; [`heap`] tunes the allocator; this file wires the
//! router, `/ready`, `/metrics` and the service's life (load at start, snapshots flushed at
//! shutdown).

pub mod handlers;
pub mod heap;
pub mod history;
pub mod registry;
pub mod search;
pub mod search_cache;
pub mod store;
pub mod wal;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use lakehouse_client::{CatalogClient, ServiceClient, StorageClient};
use lakehouse_common::metrics::{self, Histogram};
use lakehouse_common::server::{BoxFuture, ReadyCheck};
use lakehouse_common::startup::RunError;
use lakehouse_common::{LoadedConfig, ServiceContext, layers, serve};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use registry::Registry;

/// The crate version, reported by `/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Add bodies are capped at this size.
pub const MAX_ADD_BODY: u64 = 64 << 20;
/// Every other body (searches, deletes, merges) is capped at this size.
pub const MAX_BODY: u64 = 8 << 20;

struct VectorReady {
    registry: Arc<Registry>,
    storage: ServiceClient,
}

impl ReadyCheck for VectorReady {
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let rid = lakehouse_common::request_id::current()
                .unwrap_or_else(lakehouse_common::request_id::generate);
            let mut reasons =
                lakehouse_client::unhealthy(&[("storaged", self.storage.clone())], &rid).await;
            reasons.extend(self.registry.not_ready());
            reasons
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.registry.problems()
    }
}

/// Adds: the one route with the large body cap.
fn add_routes() -> OpenApiRouter<Arc<Registry>> {
    OpenApiRouter::new().routes(routes!(handlers::add))
}

fn other_routes() -> OpenApiRouter<Arc<Registry>> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::get_index, handlers::delete_index))
        .routes(routes!(handlers::delete_items))
        .routes(routes!(handlers::get_item))
        .routes(routes!(search::search))
        .routes(routes!(handlers::merge))
        .routes(routes!(handlers::commit))
}

/// The routes, over `registry`.
pub fn router(registry: Arc<Registry>) -> Router {
    let adds = add_routes()
        .split_for_parts()
        .0
        .with_state(registry.clone());
    let rest = other_routes().split_for_parts().0.with_state(registry);
    layers::body_limit(adds, MAX_ADD_BODY).merge(layers::body_limit(rest, MAX_BODY))
}

/// The OpenAPI document of [`router`]'s routes, from the same registrations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = add_routes().into_openapi();
    doc.merge(other_routes().into_openapi());
    doc
}

/// A per-index figure: name, help, how to read it.
type Gauge = (&'static str, &'static str, fn(&registry::Entry) -> u64);

fn collect(registry: &Registry, out: &mut String) {
    let entries = registry.entries();
    let label = |name: &str| format!("index=\"{}\"", metrics::escape(name));
    let gauges: [Gauge; 4] = [
        ("lakehouse_vectors", "Live vectors, by index.", |e| {
            e.index.stats().length as u64
        }),
        (
            "lakehouse_vector_tombstones",
            "Slots of deleted or replaced vectors not yet reused or compacted, by index.",
            |e| e.index.stats().tombstones as u64,
        ),
        (
            "lakehouse_vector_compactions_total",
            "Background compactions finished, by index.",
            |e| e.index.stats().compactions,
        ),
        (
            "lakehouse_vector_log_records",
            "Log records (groups of acknowledged writes) not yet covered by a stored snapshot, replayed at start; by index.",
            |e| e.pending_log_records() as u64,
        ),
    ];
    for (name, help, f) in gauges {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = std::fmt::Write::write_fmt(
            out,
            format_args!("# HELP {name} {help}\n# TYPE {name} {kind}\n"),
        );
        for e in &entries {
            let _ = std::fmt::Write::write_fmt(
                out,
                format_args!("{name}{{{}}} {}\n", label(&e.name), f(e)),
            );
        }
    }
    Histogram::write_header(
        out,
        "lakehouse_vector_search_seconds",
        "Search time inside vectord, by index.",
    );
    for e in &entries {
        e.searches
            .write_samples(out, "lakehouse_vector_search_seconds", &label(&e.name));
    }
    let f = &registry.figures;
    Histogram::write_header(
        out,
        "lakehouse_vector_save_seconds",
        "Snapshot saves: encode and store.",
    );
    f.saves
        .write_samples(out, "lakehouse_vector_save_seconds", "");
    Histogram::write_header(
        out,
        "lakehouse_vector_log_write_seconds",
        "Storing a write's log record.",
    );
    f.log_writes
        .write_samples(out, "lakehouse_vector_log_write_seconds", "");
    metrics::write_sample(
        out,
        "lakehouse_vector_save_failures_total",
        "counter",
        "Snapshot saves that failed (retried).",
        "",
        f.save_failures.load(Ordering::Relaxed),
    );
    let sizes = f
        .snapshot_bytes
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    let _ = std::fmt::Write::write_str(
        out,
        "# HELP lakehouse_vector_snapshot_bytes Size of the last snapshot stored, by index.\n# TYPE lakehouse_vector_snapshot_bytes gauge\n",
    );
    for (name, bytes) in sizes {
        let _ = std::fmt::Write::write_fmt(
            out,
            format_args!(
                "lakehouse_vector_snapshot_bytes{{{}}} {bytes}\n",
                label(&name)
            ),
        );
    }
    metrics::write_sample(
        out,
        "lakehouse_vector_load_problems",
        "gauge",
        "Snapshots skipped or log records not replayed at start (see /ready).",
        "",
        registry.problems().len(),
    );
    let cache = &registry.search_cache;
    for (name, help, n) in [
        (
            "lakehouse_vector_search_cache_hits_total",
            "Searches answered from the repeat cache.",
            cache.hits.load(Ordering::Relaxed),
        ),
        (
            "lakehouse_vector_search_cache_misses_total",
            "Searches the repeat cache could not answer (the index was searched).",
            cache.misses.load(Ordering::Relaxed),
        ),
    ] {
        metrics::write_sample(out, name, "counter", help, "", n);
    }
    metrics::write_sample(
        out,
        "lakehouse_vector_search_cache_entries",
        "gauge",
        "Answers held by the repeat cache.",
        "",
        cache.len(),
    );
    if let Ok(h) = registry.history() {
        for (i, (name, help)) in [
            (
                "lakehouse_vector_as_of_live_searches_total",
                "Searches as of a catalog version answered by the live index (it held that commit and no later write).",
            ),
            (
                "lakehouse_vector_as_of_stored_searches_total",
                "Searches as of a catalog version answered by a committed state loaded from storage.",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let n = h.answered[i].load(Ordering::Relaxed);
            metrics::write_sample(out, name, "counter", help, "", n);
        }
    }
    heap::collect(out);
}

/// The app and its registry (not yet loaded: call [`Registry::load`]).
pub fn app(loaded: &LoadedConfig) -> Result<(Router, Arc<Registry>), RunError> {
    let c = &loaded.config;
    let storage = ServiceClient::new(&c.vectord.storaged_url, loaded.auth.token())?;
    let index_store = store::Store::new(
        StorageClient::new(storage.clone()),
        usize::try_from(c.vectord.snapshot_part_mb << 20).unwrap_or(usize::MAX),
    );
    let registry = Registry::new(
        index_store.clone(),
        Duration::from_millis(c.vectord.save_delay_ms),
        Duration::from_millis(c.vectord.log_timeout_ms),
        c.vectord.search_cache_entries,
    );
    if c.vectord.shards > 1 {
        registry.set_shard(c.vectord.shard, c.vectord.shards);
    }
    let catalog = ServiceClient::any_of(
        &c.vectord.catalogd_url.0,
        loaded.auth.token(),
        lakehouse_client::default_http_client(Duration::from_secs(2)),
    )?;
    registry.set_history(history::History::new(
        CatalogClient::new(catalog),
        index_store,
        c.vectord.as_of_cache_mb << 20,
    ));
    let ready = VectorReady {
        registry: registry.clone(),
        storage,
    };
    let ctx = ServiceContext::new(
        "vectord",
        VERSION,
        loaded.auth.clone(),
        Arc::new(ready),
        &c.common,
    );
    let for_metrics = registry.clone();
    ctx.metrics
        .add_collector(move |out| collect(&for_metrics, out));
    let routes = layers::timeout(router(registry.clone()), ctx.request_timeout);
    Ok((lakehouse_common::app(&ctx, routes), registry))
}

/// Serves vectord on `listener` until `shutdown` resolves, then saves every index with
/// writes not yet in a snapshot.
pub async fn run(
    loaded: LoadedConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let (app, registry) = app(&loaded)?;
    let loader = {
        let r = registry.clone();
        tokio::spawn(async move { r.load().await })
    };
    let result = serve(listener, app, (&loaded.config.common).into(), shutdown).await;
    loader.abort();
    registry.flush().await;
    result?;
    Ok(())
}
