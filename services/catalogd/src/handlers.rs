//! HTTP handlers: thin wrappers turning [`Catalog`] outcomes into answers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lakehouse_common::access::caller;
use lakehouse_common::audit::AuditTarget;
use lakehouse_common::extract::JsonBody;
use lakehouse_common::{ApiError, Principal, request_id};
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

/// The answer, naming the dataset for the audit log.
fn audited(name: &str, r: Response) -> Response {
    let mut r = r;
    r.extensions_mut()
        .insert(AuditTarget(format!("dataset:{name}")));
    r
}

/// `POST /catalog/register`.
pub async fn register(
    State(c): State<Arc<Catalog>>,
    principal: Option<Extension<Principal>>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_dataset(&req.name)?;
    let name = req.name.clone();
    c.register(req, &rid())
        .await
        .map(|o| audited(&name, answer(o)))
}

/// `POST /catalog/append`.
pub async fn append(
    State(c): State<Arc<Catalog>>,
    principal: Option<Extension<Principal>>,
    JsonBody(req): JsonBody<AppendRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_dataset(&req.name)?;
    let name = req.name.clone();
    c.append(req, &rid())
        .await
        .map(|o| audited(&name, answer(o)))
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
pub async fn list(
    State(c): State<Arc<Catalog>>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<ManifestList>, ApiError> {
    let who = caller(principal);
    let (mut manifests, version) = c.list()?;
    manifests.retain(|m| who.may_dataset(&m.name));
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
