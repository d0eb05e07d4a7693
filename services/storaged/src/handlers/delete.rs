//! `DELETE /storage/objects/{key}`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri};
use lakehouse_types::ErrorBody;

use super::key_from_uri;
use crate::{AppState, error};

/// 204 when the object existed and is gone; 404 when there was none.
#[utoipa::path(delete, path = "/storage/objects/{*key}", tag = "storage", params(("key" = String, Path, description = "The object key: UTF-8, at most 1024 bytes, percent-encoded as needed (`/` may stay)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_key`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn delete_object(State(state): State<AppState>, uri: Uri) -> Response {
    let key = match key_from_uri(&uri) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    match state.store.delete(&key).await {
        Ok(()) => {
            state.stats.objects_deleted.fetch_add(1, Ordering::Relaxed);
            tracing::info!(key = %key, "object deleted");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => error::response(e),
    }
}
