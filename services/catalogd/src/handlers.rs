//! HTTP handlers: thin wrappers turning [`Catalog`] outcomes into answers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lakehouse_common::extract::JsonBody;
use lakehouse_common::{ApiError, request_id};
use lakehouse_types::{AppendRequest, CatalogVersion, Manifest, ManifestList, RegisterRequest};

use crate::catalog::{Catalog, Outcome};

fn rid() -> String {
    request_id::current().unwrap_or_else(request_id::generate)
}

fn answer(o: Outcome) -> Response {
    let status = if o.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(o.response)).into_response()
}

/// `POST /catalog/register`.
pub async fn register(
    State(c): State<Arc<Catalog>>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    c.register(req, &rid()).await.map(answer)
}

/// `POST /catalog/append`.
pub async fn append(
    State(c): State<Arc<Catalog>>,
    JsonBody(req): JsonBody<AppendRequest>,
) -> Result<Response, ApiError> {
    c.append(req, &rid()).await.map(answer)
}

/// `GET /catalog/manifest/{name}`.
pub async fn get_manifest(
    State(c): State<Arc<Catalog>>,
    Path(name): Path<String>,
) -> Result<Json<Manifest>, ApiError> {
    c.get(&name).map(Json)
}

/// `DELETE /catalog/manifest/{name}`.
pub async fn delete_manifest(
    State(c): State<Arc<Catalog>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.delete(&name, &rid()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /catalog/list`.
pub async fn list(State(c): State<Arc<Catalog>>) -> Result<Json<ManifestList>, ApiError> {
    let (manifests, version) = c.list()?;
    Ok(Json(ManifestList {
        count: manifests.len(),
        manifests,
        version,
    }))
}

/// `GET /catalog/version`.
pub async fn version(State(c): State<Arc<Catalog>>) -> Json<CatalogVersion> {
    Json(CatalogVersion {
        version: c.version(),
    })
}
