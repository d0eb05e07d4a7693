//! Per-route limits and the error normaliser every service stacks.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::{ApiError, code_for_status};

/// Caps request bodies of `router`'s routes at `bytes`: a larger `Content-Length` is refused
/// with 413 before anything is read, and a body that grows past the cap fails when it does.
pub fn body_limit(router: Router, bytes: u64) -> Router {
    let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    router
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(bytes))
}

/// Ends requests of `router`'s routes that take longer than `limit` with 408.
pub fn timeout(router: Router, limit: Duration) -> Router {
    router.layer(middleware::from_fn_with_state(limit, enforce_timeout))
}

async fn enforce_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("request did not complete within {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Turns every non-JSON error response (axum's rejections, tower-http's 413, 405s) into our
/// JSON error shape, keeping status and useful headers.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
    if is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&text).trim().to_owned();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_lowercase();
    }
    let fresh = ApiError::new(status, code_for_status(status), message).into_response();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_TYPE);
    let (fresh_parts, fresh_body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, fresh_body)
}
