//! Per-route limits and the error normaliser every service stacks.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::{ApiError, code_for_status};

/// Oversized bodies up to this size are read and dropped before the 413, so the connection
/// stays usable; larger ones get the 413 at once and the connection is closed.
const DRAIN_MAX: u64 = 8 << 20;

/// Caps request bodies of `router`'s routes at `bytes`: a larger `Content-Length` is refused
/// with 413, and a body that grows past the cap fails when it does.
pub fn body_limit(router: Router, bytes: u64) -> Router {
    let cap = usize::try_from(bytes).unwrap_or(usize::MAX);
    router
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(cap))
        .layer(middleware::from_fn_with_state(bytes, refuse_oversized))
}

/// Answering 413 before the body is read leaves unread bytes on the connection: a client
/// that is still sending (a proxy streaming the body) sees a reset instead of the 413, and a
/// pooled keep-alive connection dies under the next request. So modest bodies are drained
/// first, and a 413 that cannot drain says `Connection: close`.
async fn refuse_oversized(State(cap): State<u64>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut res = match declared {
        Some(n) if n > cap => {
            if n <= DRAIN_MAX {
                let mut body = req.into_body();
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        break;
                    }
                }
            }
            let mut res = ApiError::payload_too_large(format!(
                "the body is {n} bytes; the limit here is {cap}"
            ))
            .into_response();
            if n > DRAIN_MAX {
                res.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            return res;
        }
        _ => next.run(req).await,
    };
    if res.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        // The body grew past the cap mid-stream: the rest of it is still unread.
        res.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    res
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
