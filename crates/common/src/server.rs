//! The HTTP server every service runs: the shared routes (`/health`, `/ready`, `/metrics`),
//! the middleware stack, and an accept loop with header-read timeouts, a connection cap and
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use lakehouse_types::{HealthResponse, ReadyResponse};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthPolicy, Guard, require_auth};
use crate::config::CommonConfig;
use crate::error::ApiError;
use crate::metrics::{self, Metrics};
use crate::tls::TlsFiles;
use crate::{layers, request_id};

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides whether a service is ready; an empty list of reasons means ready.
pub trait ReadyCheck: Send + Sync + 'static {
    /// Reasons the service is not ready.
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>>;

    /// Problems reported by `/ready` that do not make the service unready.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<F> ReadyCheck for F
where
    F: Fn() -> BoxFuture<'static, Vec<String>> + Send + Sync + 'static,
{
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        self()
    }
}

/// Always ready.
#[derive(Debug, Clone, Copy)]
pub struct AlwaysReady;

impl ReadyCheck for AlwaysReady {
    fn not_ready_reasons(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}

/// What the shared routes need to know about a service.
#[derive(Clone)]
pub struct ServiceContext {
    /// Binary name, e.g. `storaged`.
    pub name: &'static str,
    /// Semver of the binary.
    pub version: &'static str,
    /// Auth for every non-public route.
    pub auth: AuthPolicy,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The readiness decision.
    pub ready: Arc<dyn ReadyCheck>,
    /// Timeout for the shared routes.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    /// A context with an empty metrics registry.
    pub fn new(
        name: &'static str,
        version: &'static str,
        auth: AuthPolicy,
        ready: Arc<dyn ReadyCheck>,
        common: &CommonConfig,
    ) -> Self {
        Self {
            name,
            version,
            auth,
            metrics: Metrics::new(name),
            ready,
            request_timeout: Duration::from_millis(common.request_timeout_ms),
        }
    }
}

/// Assembles a service: public `/health` and `/ready`, then `protected` plus `/metrics` behind
/// auth, then the stack every request goes through. From the outside in: request id (and the
/// per-request log span), metrics, JSON error shaping.
pub fn app(ctx: &ServiceContext, protected: Router) -> Router {
    let shared = probe_routes().split_for_parts().0.with_state(ctx.clone());
    let metrics_route = metrics_routes()
        .split_for_parts()
        .0
        .with_state(ctx.metrics.clone());
    let shared = layers::timeout(shared.merge(metrics_route), ctx.request_timeout);
    // Auth wraps every route; the middleware itself lets /health and /ready through.
    let protected = protected
        .merge(shared)
        .route_layer(middleware::from_fn_with_state(
            Guard {
                policy: ctx.auth.clone(),
                service: ctx.name,
            },
            require_auth_except_public,
        ));
    protected
        .fallback(not_found)
        .layer(middleware::from_fn(layers::json_errors))
        .layer(middleware::from_fn_with_state(
            ctx.metrics.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(request_id::propagate))
}

async fn require_auth_except_public(
    State(guard): State<Guard>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    match req.uri().path() {
        "/health" | "/ready" => next.run(req).await,
        _ => require_auth(State(guard), req, next).await,
    }
}

fn probe_routes() -> OpenApiRouter<ServiceContext> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

fn metrics_routes() -> OpenApiRouter<Arc<Metrics>> {
    OpenApiRouter::new().routes(routes!(render_metrics))
}

/// The document of the shared routes every service answers.
pub fn shared_openapi() -> utoipa::openapi::OpenApi {
    let mut doc = probe_routes().into_openapi();
    doc.merge(metrics_routes().into_openapi());
    doc
}

/// Liveness: the process answers. No token needed.
#[utoipa::path(get, path = "/health", tag = "probes", security(()),
    responses((status = 200, description = "The process answers", body = HealthResponse)))]
async fn health(State(ctx): State<ServiceContext>) -> Json<HealthResponse> {
    Json(HealthResponse {
        service: ctx.name.to_owned(),
        status: "ok".into(),
        version: ctx.version.to_owned(),
    })
}

/// Readiness: the service and what it depends on can serve. No token needed.
#[utoipa::path(get, path = "/ready", tag = "probes", security(()),
    responses(
        (status = 200, description = "Ready", body = ReadyResponse),
        (status = 503, description = "Not ready; `reasons` says why", body = ReadyResponse),
    ))]
async fn ready(State(ctx): State<ServiceContext>) -> Response {
    let reasons = ctx.ready.not_ready_reasons().await;
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = ReadyResponse {
        service: ctx.name.to_owned(),
        status: if reasons.is_empty() {
            "ready"
        } else {
            "not_ready"
        }
        .into(),
        reasons,
        warnings: ctx.ready.warnings(),
    };
    // A JSON body on 503 too, so the error normaliser leaves the reasons intact.
    (status, Json(body)).into_response()
}

/// Prometheus text exposition of the service's figures.
#[utoipa::path(get, path = "/metrics", tag = "probes",
    responses((status = 200, description = "Prometheus text format 0.0.4",
        content_type = "text/plain", body = String)))]
async fn render_metrics(State(m): State<Arc<Metrics>>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.render(),
    )
        .into_response()
}

async fn not_found(uri: http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// Accept-loop settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A client must send its headers within this time.
    pub header_read_timeout: Duration,
    /// In-flight requests get this long after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Connections held open at once.
    pub max_connections: usize,
    /// Listen with TLS, with these files (reloaded on SIGHUP).
    pub tls: Option<TlsFiles>,
}

impl From<&CommonConfig> for ServeOptions {
    fn from(c: &CommonConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(c.header_read_timeout_ms),
            shutdown_grace: Duration::from_millis(c.shutdown_grace_ms),
            max_connections: c.max_connections,
            tls: c
                .tls_cert
                .clone()
                .zip(c.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish (bounded by the grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let tls = opts
        .tls
        .as_ref()
        .map(crate::tls::acceptor)
        .transpose()
        .map_err(std::io::Error::other)?;
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let router = router.clone();
            async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
        let Some(acceptor) = tls.clone() else {
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        // The handshake runs in the connection's own task, bounded like a header read, so a
        // slow or silent client never holds up the accept loop.
        let (builder, watcher, limit) = (
            builder.clone(),
            graceful.watcher(),
            opts.header_read_timeout,
        );
        tokio::spawn(async move {
            match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                        .into_owned();
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                }
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(opts.shutdown_grace) => {
            tracing::warn!(grace_ms = opts.shutdown_grace.as_millis() as u64, "grace period over; closing remaining connections");
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
