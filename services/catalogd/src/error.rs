//! Catalog conditions as HTTP answers: the one place a [`CatalogError`] gets a status.

use axum::http::StatusCode;
use lakehouse_catalog::CatalogError;
use lakehouse_common::ApiError;

/// Maps a catalog failure to its status and code.
pub fn api_error(e: CatalogError) -> ApiError {
    let message = e.to_string();
    match e {
        CatalogError::Invalid { code, .. } => ApiError::bad_request(message).with_code(code),
        CatalogError::NotFound(_) => ApiError::not_found(message),
        CatalogError::NotCommitted(_) => ApiError::not_found(message).with_code("not_committed"),
        CatalogError::VersionNotFound { .. } => {
            ApiError::not_found(message).with_code("version_not_found")
        }
        CatalogError::Expired(_) => ApiError::new(StatusCode::GONE, "version_expired", message),
        CatalogError::Conflict { code, .. } => ApiError::conflict(message).with_code(code),
        CatalogError::VersionConflict { current, .. } => ApiError::conflict(message)
            .with_code("version_conflict")
            .with_current_version(current),
        CatalogError::NotLeader(_) => ApiError::unavailable(message).with_code("not_leader"),
        CatalogError::NotReady(_) => ApiError::unavailable(message).with_code("not_ready"),
        CatalogError::Storage(_) => ApiError::bad_gateway(message).with_code("storage_unavailable"),
        CatalogError::Internal(m) => ApiError::internal(m),
    }
}
