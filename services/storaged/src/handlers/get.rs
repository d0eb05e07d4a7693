//! `GET` and `HEAD /storage/objects/{key}`.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use lakehouse_common::ApiError;
use lakehouse_storage::{ByteRange, ObjectMeta};
use lakehouse_types::ErrorBody;

use super::key_from_uri;
use crate::{AppState, error};

fn meta_headers(h: &mut HeaderMap, meta: &ObjectMeta) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = meta.etag.parse() {
        h.insert(ETAG, v);
    }
    if let Ok(v) = httpdate::fmt_http_date(meta.last_modified).parse() {
        h.insert(LAST_MODIFIED, v);
    }
}

/// Streams an object, or the one byte range asked for (206).
#[utoipa::path(get, path = "/storage/objects/{*key}", tag = "storage",
    params(("key" = String, Path, description = "The object key: UTF-8, at most 1024 bytes, percent-encoded as needed (`/` may stay)"), ("Range" = Option<String>, Header, description = "One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`")),
    responses(
        (status = 200, description = "The object", content_type = "application/octet-stream", body = String,
            headers(("ETag" = String), ("Last-Modified" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream", body = String,
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 400, description = "`invalid_key`, `bad_request`: an unparseable Range", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody),
    ))]
pub async fn get_object(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let key = match key_from_uri(&uri) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let range = match headers.get(RANGE).map(|v| v.to_str().map_err(|_| ())) {
        None => None,
        Some(Err(())) => return ApiError::bad_request("unparseable Range header").into_response(),
        Some(Ok(v)) => match ByteRange::parse_header(v) {
            Ok(r) => r,
            Err(e) => return error::response(e),
        },
    };
    let got = match state.store.get(&key, range).await {
        Ok(g) => g,
        Err(e) => return error::response(e),
    };
    let (status, len) = match got.range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, b - a + 1),
        None => (StatusCode::OK, got.meta.size),
    };
    let stats = state.stats.clone();
    let body = got.body.map(move |chunk| {
        if let Ok(c) = &chunk {
            stats
                .bytes_read
                .fetch_add(c.len() as u64, Ordering::Relaxed);
        }
        chunk
    });
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    meta_headers(h, &got.meta);
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Some((a, b)) = got.range
        && let Ok(v) = format!("bytes {a}-{b}/{}", got.meta.size).parse()
    {
        h.insert(CONTENT_RANGE, v);
    }
    res
}

/// Size, etag and last-modified of an object, without its bytes.
#[utoipa::path(head, path = "/storage/objects/{*key}", tag = "storage", params(("key" = String, Path, description = "The object key: UTF-8, at most 1024 bytes, percent-encoded as needed (`/` may stay)")),
    responses(
        (status = 200, description = "It exists", headers(("ETag" = String), ("Content-Length" = u64), ("Last-Modified" = String))),
        (status = 400, description = "`invalid_key`"),
        (status = 404, description = "`not_found`"),
    ))]
pub async fn head_object(State(state): State<AppState>, uri: Uri) -> Response {
    let key = match key_from_uri(&uri) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    match state.store.head(&key).await {
        Ok(meta) => {
            let mut res = StatusCode::OK.into_response();
            let h = res.headers_mut();
            meta_headers(h, &meta);
            h.insert(CONTENT_LENGTH, HeaderValue::from(meta.size));
            res
        }
        Err(e) => error::response(e),
    }
}
