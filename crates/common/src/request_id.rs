//! `x-request-id`: taken from the request when it is sane, generated otherwise, echoed on the
//! response, attached to the tracing span (so every log line carries it) and readable by
//! handlers, errors and the internal client while the request runs.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

/// The header name.
pub const HEADER: &str = "x-request-id";

/// A request id, stored in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (for work spawned off the request task).
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// A fresh id.
pub fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Accepts 1–128 visible ASCII characters; anything else is replaced, so ids stay safe to log.
fn sane(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| s.to_owned())
}

/// Outermost middleware of every service.
pub async fn propagate(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(sane)
        .unwrap_or_else(generate);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(HEADER, value.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let run = async move {
        let res = next.run(req).await;
        // One access-log line per request, inside the span so it carries the id.
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
        res
    };
    let mut res = tracing::Instrument::instrument(CURRENT.scope(id, run), span).await;
    res.headers_mut().insert(HEADER, value);
    res
}
