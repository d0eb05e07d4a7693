//! Storage conditions as HTTP answers.

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_RANGE;
use lakehouse_common::ApiError;
use lakehouse_storage::StorageError;

/// Maps a storage failure to its status and code.
pub fn api_error(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound(key) => ApiError::not_found(format!("object '{key}' not found")),
        StorageError::InvalidRange { size } => ApiError::range_not_satisfiable(format!(
            "range not satisfiable for an object of {size} bytes"
        )),
        StorageError::BadRequest(m) => ApiError::bad_request(m),
        StorageError::TooLarge { limit } => {
            ApiError::payload_too_large(format!("object exceeds the limit of {limit} bytes"))
        }
        StorageError::Conflict(m) => ApiError::conflict(m),
        StorageError::PreconditionFailed { current } => ApiError::new(
            http::StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            match current {
                Some(etag) => {
                    format!("the object's ETag is {etag}; the write's precondition does not hold")
                }
                None => "no object has this key; the write's precondition does not hold".to_owned(),
            },
        ),
        StorageError::BodyRead(m) => ApiError::bad_request(format!("upload interrupted: {m}"))
            .with_code("upload_interrupted"),
        StorageError::Unavailable(m) => {
            ApiError::unavailable(format!("storage backend unavailable: {m}"))
                .with_code("backend_unavailable")
        }
        StorageError::Timeout(m) => {
            ApiError::gateway_timeout(format!("storage backend timed out: {m}"))
                .with_code("backend_timeout")
        }
        StorageError::Backend(m) => {
            ApiError::bad_gateway(format!("storage backend error: {m}")).with_code("backend_error")
        }
        StorageError::Io(e) => ApiError::internal(format!("storage i/o: {e}")),
    }
}

/// As [`api_error`], adding `Content-Range: bytes */size` to a 416 as RFC 9110 asks.
pub fn response(e: StorageError) -> Response {
    let range_size = match &e {
        StorageError::InvalidRange { size } => Some(*size),
        _ => None,
    };
    let mut res = api_error(e).into_response();
    if let Some(size) = range_size
        && let Ok(v) = format!("bytes */{size}").parse()
    {
        res.headers_mut().insert(CONTENT_RANGE, v);
    }
    res
}
