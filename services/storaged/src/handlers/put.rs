//! `PUT /storage/objects/{key}`.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::header::{CONTENT_LENGTH, ETAG, IF_MATCH, IF_NONE_MATCH, RETRY_AFTER};
use http::{HeaderMap, Uri};
use lakehouse_common::ApiError;
use lakehouse_storage::{Precondition, put_if};
use lakehouse_types::{ErrorBody, PutResponse};

use super::key_from_uri;
use crate::{AppState, error};

/// Streams the body into the store. The size cap is checked against `Content-Length` before
/// a byte is read, and counted while streaming for bodies without one. `If-None-Match: *`
/// writes only when no object has the key, `If-Match: "etag"` only over that version; two
/// conditional writers of one key through one storaged never both succeed, whatever the
/// backend.
#[utoipa::path(put, path = "/storage/objects/{*key}", tag = "storage", params(("key" = String, Path, description = "The object key: UTF-8, at most 1024 bytes, percent-encoded as needed (`/` may stay)"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: write only if no object has the key"),
        ("If-Match" = Option<String>, Header, description = "Write only over the object with this ETag (`*`: any existing object)")),
    request_body(content = String, content_type = "application/octet-stream", description = "The object's bytes"),
    responses(
        (status = 200, description = "Stored", body = PutResponse, headers(("ETag" = String))),
        (status = 400, description = "`invalid_key`, `invalid_precondition`, `upload_interrupted`, `bad_request`", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: `If-None-Match: *` and the object exists, or `If-Match` and its ETag differs", body = ErrorBody),
        (status = 409, description = "`conflict`: a key that is a prefix of another, or the other way round", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`too_many_uploads` (with Retry-After), `backend_unavailable`", body = ErrorBody),
    ))]
pub async fn put_object(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = match key_from_uri(&uri) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let condition = match precondition(&headers) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let max = state.limits.max_object_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return ApiError::payload_too_large(format!("object exceeds the limit of {max} bytes"))
            .into_response();
    }
    let slot = tokio::time::timeout(
        state.limits.upload_queue_timeout,
        state.upload_slots.clone().acquire_owned(),
    );
    let Ok(Ok(permit)) = slot.await else {
        state.stats.uploads_rejected.fetch_add(1, Ordering::Relaxed);
        let mut res = ApiError::unavailable(format!(
            "all {} upload slots are busy; retry shortly",
            state.limits.max_uploads
        ))
        .with_code("too_many_uploads")
        .into_response();
        res.headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from_static("1"));
        return res;
    };
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let result = match &condition {
        None => state.store.put(&key, Box::pin(stream), max).await,
        Some(c) => {
            put_if(
                &*state.store,
                &state.key_locks,
                &key,
                Box::pin(stream),
                max,
                c,
            )
            .await
        }
    };
    drop(permit);
    match result {
        Ok(meta) => {
            state
                .stats
                .bytes_written
                .fetch_add(meta.size, Ordering::Relaxed);
            state.stats.objects_written.fetch_add(1, Ordering::Relaxed);
            tracing::info!(key = %meta.key, size = meta.size, "object stored");
            let etag = meta.etag.clone();
            let mut res = Json(PutResponse {
                key: meta.key.into_string(),
                size: meta.size,
                etag: meta.etag,
            })
            .into_response();
            if let Ok(v) = etag.parse() {
                res.headers_mut().insert(ETAG, v);
            }
            res
        }
        Err(e) => error::response(e),
    }
}

/// The write's precondition, from `If-None-Match` (only `*`: S3 takes nothing else) or
/// `If-Match`; both at once is refused.
fn precondition(headers: &HeaderMap) -> Result<Option<Precondition>, ApiError> {
    let text = |name: http::HeaderName| -> Result<Option<String>, ApiError> {
        headers
            .get(&name)
            .map(|v| {
                v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                    ApiError::bad_request(format!("{name} is not text"))
                        .with_code("invalid_precondition")
                })
            })
            .transpose()
    };
    match (text(IF_NONE_MATCH)?, text(IF_MATCH)?) {
        (None, None) => Ok(None),
        (Some(v), None) if v == "*" => Ok(Some(Precondition::Absent)),
        (Some(v), None) => Err(ApiError::bad_request(format!(
            "If-None-Match on a write takes only \"*\" (create if absent), not {v}"
        ))
        .with_code("invalid_precondition")),
        (None, Some(v)) if !v.is_empty() => Ok(Some(Precondition::Matches(v))),
        (None, Some(_)) => {
            Err(ApiError::bad_request("If-Match is empty").with_code("invalid_precondition"))
        }
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give If-None-Match or If-Match, not both",
        )
        .with_code("invalid_precondition")),
    }
}
