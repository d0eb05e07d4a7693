//! `DELETE /storage/objects/{key}`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri};

use super::key_from_uri;
use crate::{AppState, error};

/// 204 when the object existed and is gone; 404 when there was none.
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
