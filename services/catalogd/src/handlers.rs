//! HTTP handlers: thin wrappers turning [`Catalog`] outcomes into answers.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lakehouse_catalog::Outcome;
use lakehouse_common::access::caller;
use lakehouse_common::audit::AuditTarget;
use lakehouse_common::extract::JsonBody;
use lakehouse_common::{ApiError, Principal, request_id};
use lakehouse_types::{
    AppendRequest, AsOf, CatalogVersion, ChangeKind, CommitLog, ErrorBody, GcReport, History,
    IndexCommitInfo, IndexCommitRequest, Manifest, ManifestList, RegisterRequest, RegisterResponse,
    RollbackRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::Cat;
use crate::error::api_error;

fn rid() -> String {
    request_id::current().unwrap_or_else(request_id::generate)
}

/// The manifest's catalog version as an entity tag, for `If-Match` on the next write.
fn etag(v: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{v}\"")).ok()
}

fn answer(o: Outcome) -> Response {
    let status = if o.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tag = etag(o.response.manifest.catalog_version);
    let mut r = (status, Json(o.response)).into_response();
    if let Some(t) = tag {
        r.headers_mut().insert(header::ETAG, t);
    }
    r
}

/// The answer, naming the dataset for the audit log.
fn audited(name: &str, r: Response) -> Response {
    let mut r = r;
    r.extensions_mut()
        .insert(AuditTarget(format!("dataset:{name}")));
    r
}

/// The `If-Match` precondition (`"12"`, `W/"12"` or `12`), merged with one in the body.
fn precondition(headers: &HeaderMap, body: Option<u64>) -> Result<Option<u64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(body);
    };
    let text = raw.to_str().unwrap_or("").trim();
    let bare = text.trim_start_matches("W/").trim_matches('"');
    let v: u64 = bare.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "If-Match must name a catalog version, like \"12\"; got '{}'",
            text.escape_default()
        ))
        .with_code("invalid_precondition")
    })?;
    match body {
        Some(b) if b != v => Err(ApiError::bad_request(format!(
            "If-Match names version {v} but expected_version is {b}"
        ))
        .with_code("invalid_precondition")),
        _ => Ok(Some(v)),
    }
}

/// `?version=V` or `?at=RFC3339`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtParams {
    /// A catalog version (a whole number).
    version: Option<String>,
    /// An RFC 3339 time: the newest version at or before it.
    at: Option<String>,
}

impl AtParams {
    fn as_of(&self) -> Result<Option<AsOf>, ApiError> {
        match (&self.version, &self.at) {
            (Some(_), Some(_)) => {
                Err(ApiError::bad_request("give version or at, not both")
                    .with_code("invalid_as_of"))
            }
            (Some(v), None) => v.parse().map(|v| Some(AsOf::Version(v))).map_err(|_| {
                ApiError::bad_request(format!(
                    "version '{}' is not a catalog version (a whole number)",
                    v.escape_default()
                ))
                .with_code("invalid_as_of")
            }),
            (None, Some(t)) => Ok(Some(AsOf::Time(t.clone()))),
            (None, None) => Ok(None),
        }
    }
}

/// `POST /catalog/register`: makes the dataset exactly these objects (create or replace).
#[utoipa::path(post, path = "/catalog/register", tag = "catalog", request_body = RegisterRequest,
    params(("If-Match" = Option<String>, Header, description = "Precondition: the dataset's current catalog version, as its ETag (`\"12\"`)")),
    responses(
        (status = 200, description = "Replaced, or already held exactly this (`existing`)", body = RegisterResponse,
            headers(("ETag" = String, description = "The new catalog version"))),
        (status = 201, description = "Created", body = RegisterResponse,
            headers(("ETag" = String, description = "The new catalog version"))),
        (status = 400, description = "`bad_request`, `invalid_name`, `invalid_precondition`: a bad name, schema, key or row count", body = ErrorBody),
        (status = 409, description = "`version_conflict` (with `current_version`), `conflict`", body = ErrorBody),
    ))]
pub async fn register(
    State(c): State<Arc<Cat>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_dataset(&req.name)?;
    req.expected_version = precondition(&headers, req.expected_version)?;
    let name = req.name.clone();
    let o = c.register(req, &rid()).await.map_err(api_error)?;
    Ok(audited(&name, answer(o)))
}

/// `POST /catalog/append`: adds objects to a dataset (or creates it with `create`).
#[utoipa::path(post, path = "/catalog/append", tag = "catalog", request_body = AppendRequest,
    params(("If-Match" = Option<String>, Header, description = "Precondition: the dataset's current catalog version, as its ETag (`\"12\"`)")),
    responses(
        (status = 200, description = "Appended, or already held these objects (`existing`)", body = RegisterResponse,
            headers(("ETag" = String, description = "The new catalog version"))),
        (status = 201, description = "Created (`create`)", body = RegisterResponse,
            headers(("ETag" = String, description = "The new catalog version"))),
        (status = 400, description = "`bad_request`, `invalid_precondition`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dataset and no `create`", body = ErrorBody),
        (status = 409, description = "`version_conflict`, `schema_mismatch`", body = ErrorBody),
    ))]
pub async fn append(
    State(c): State<Arc<Cat>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<AppendRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_dataset(&req.name)?;
    req.expected_version = precondition(&headers, req.expected_version)?;
    let name = req.name.clone();
    let o = c.append(req, &rid()).await.map_err(api_error)?;
    Ok(audited(&name, answer(o)))
}

/// `GET /catalog/manifest/{name}`, now or `?version=` / `?at=`.
#[utoipa::path(get, path = "/catalog/manifest/{name}", tag = "catalog", params(("name" = String, Path), AtParams),
    responses(
        (status = 200, description = "The manifest", body = Manifest,
            headers(("ETag" = String, description = "Its catalog version"))),
        (status = 400, description = "`invalid_as_of`", body = ErrorBody),
        (status = 404, description = "`not_found`, `version_not_found`", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
    ))]
pub async fn get_manifest(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
    Query(at): Query<AtParams>,
) -> Result<Response, ApiError> {
    let m: Manifest = match at.as_of()? {
        None => c.get(&name),
        Some(a) => c.get_at(&name, &a),
    }
    .map_err(api_error)?;
    let tag = etag(m.catalog_version);
    let mut r = Json(m).into_response();
    if let Some(t) = tag {
        r.headers_mut().insert(header::ETAG, t);
    }
    Ok(r)
}

/// `?expected_version=` on a delete (or `If-Match`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Precondition: the dataset's current catalog version.
    expected_version: Option<u64>,
}

/// `DELETE /catalog/manifest/{name}`: the dataset ends; its snapshots stay until retention.
#[utoipa::path(delete, path = "/catalog/manifest/{name}", tag = "catalog",
    params(("name" = String, Path), DeleteParams, ("If-Match" = Option<String>, Header, description = "Precondition: the dataset's current catalog version, as its ETag (`\"12\"`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_precondition`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`version_conflict`", body = ErrorBody),
    ))]
pub async fn delete_manifest(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
    Query(p): Query<DeleteParams>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = precondition(&headers, p.expected_version)?;
    c.delete(&name, expected, &rid()).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /catalog/manifest/{name}/history`: the dataset's retained snapshots, newest first.
#[utoipa::path(get, path = "/catalog/manifest/{name}/history", tag = "catalog", params(("name" = String, Path)),
    responses(
        (status = 200, description = "Its snapshots", body = History),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn history(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
) -> Result<Json<History>, ApiError> {
    c.history(&name).map(Json).map_err(api_error)
}

/// `POST /catalog/manifest/{name}/rollback`: the dataset as it was at `version`, as a new commit.
#[utoipa::path(post, path = "/catalog/manifest/{name}/rollback", tag = "catalog",
    params(("name" = String, Path), ("If-Match" = Option<String>, Header, description = "Precondition: the dataset's current catalog version, as its ETag (`\"12\"`)")), request_body = RollbackRequest,
    responses(
        (status = 200, description = "Rolled back", body = Manifest,
            headers(("ETag" = String, description = "The new catalog version"))),
        (status = 400, description = "`bad_request`, `invalid_precondition`", body = ErrorBody),
        (status = 404, description = "`not_found`, `version_not_found`", body = ErrorBody),
        (status = 409, description = "`version_conflict`", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
    ))]
pub async fn rollback(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<RollbackRequest>,
) -> Result<Response, ApiError> {
    req.expected_version = precondition(&headers, req.expected_version)?;
    let m = c.rollback(&name, req, &rid()).await.map_err(api_error)?;
    let tag = etag(m.catalog_version);
    let mut r = Json(m).into_response();
    if let Some(t) = tag {
        r.headers_mut().insert(header::ETAG, t);
    }
    Ok(audited(&name, r))
}

/// `GET /catalog/list`, now or as of a version.
#[utoipa::path(get, path = "/catalog/list", tag = "catalog", params(AtParams),
    responses(
        (status = 200, description = "Every manifest the caller may see", body = ManifestList),
        (status = 400, description = "`invalid_as_of`", body = ErrorBody),
        (status = 404, description = "`version_not_found`", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
    ))]
pub async fn list(
    State(c): State<Arc<Cat>>,
    principal: Option<Extension<Principal>>,
    Query(at): Query<AtParams>,
) -> Result<Json<ManifestList>, ApiError> {
    let who = caller(principal);
    let (mut manifests, version, mut expired) = match at.as_of()? {
        None => c.list().map(|(m, v)| (m, v, Vec::new())),
        Some(a) => c.list_at(&a),
    }
    .map_err(api_error)?;
    manifests.retain(|m| who.may_dataset(&m.name));
    expired.retain(|n| who.may_dataset(n));
    Ok(Json(ManifestList {
        count: manifests.len(),
        manifests,
        version,
        expired,
    }))
}

/// `GET /catalog/version`, or with `?at=` the version at a time.
#[utoipa::path(get, path = "/catalog/version", tag = "catalog", params(AtParams),
    responses(
        (status = 200, description = "The version", body = CatalogVersion),
        (status = 400, description = "`invalid_as_of`", body = ErrorBody),
        (status = 404, description = "`version_not_found`", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
    ))]
pub async fn version(
    State(c): State<Arc<Cat>>,
    Query(at): Query<AtParams>,
) -> Result<Json<CatalogVersion>, ApiError> {
    let version = match at.as_of()? {
        None => c.version(),
        Some(a) => c.resolve(&a).map_err(api_error)?,
    };
    Ok(Json(CatalogVersion { version }))
}

/// `?after=&limit=` on the log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Commits after this catalog version (default 0).
    #[serde(default)]
    #[param(required = false)]
    after: u64,
    /// Commits per page, 1..=1000 (default 100).
    limit: Option<usize>,
}

/// Most commits one page lists.
pub const MAX_LOG_PAGE: usize = 1_000;

/// `GET /catalog/log`: commits after `after`, oldest first; a dataset-scoped caller sees
/// only changes to its datasets.
#[utoipa::path(get, path = "/catalog/log", tag = "catalog", params(LogParams),
    responses(
        (status = 200, description = "One page of commits", body = CommitLog),
        (status = 400, description = "`bad_request`: a limit out of range", body = ErrorBody),
        (status = 410, description = "`version_expired`: those commits are gone", body = ErrorBody),
    ))]
pub async fn log(
    State(c): State<Arc<Cat>>,
    principal: Option<Extension<Principal>>,
    Query(p): Query<LogParams>,
) -> Result<Json<CommitLog>, ApiError> {
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LOG_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LOG_PAGE}"
        )));
    }
    let who = caller(principal);
    let mut log = c.log(p.after, limit).map_err(api_error)?;
    if who.dataset_scoped() {
        for commit in &mut log.commits {
            commit.changes.retain(|ch| match ch.kind {
                ChangeKind::Dataset => who.may_dataset(&ch.name),
                ChangeKind::Index => who.may_index(&ch.name),
            });
        }
        log.commits.retain(|commit| !commit.changes.is_empty());
    }
    Ok(Json(log))
}

/// `POST /catalog/gc`: retention and collection now.
#[utoipa::path(post, path = "/catalog/gc", tag = "catalog",
    responses((status = 200, description = "What the collection did", body = GcReport)))]
pub async fn gc(State(c): State<Arc<Cat>>) -> Result<Json<GcReport>, ApiError> {
    c.gc().await.map(Json).map_err(api_error)
}

/// `POST /catalog/index/{name}/commit`: vectord records an index state it has stored.
#[utoipa::path(post, path = "/catalog/index/{name}/commit", tag = "catalog",
    params(("name" = String, Path)), request_body = IndexCommitRequest,
    responses(
        (status = 200, description = "Recorded", body = IndexCommitInfo),
        (status = 400, description = "`bad_request`: a key outside the index's prefix", body = ErrorBody),
    ))]
pub async fn commit_index(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<IndexCommitRequest>,
) -> Result<Response, ApiError> {
    let info = c
        .commit_index(&name, req, &rid())
        .await
        .map_err(api_error)?;
    let mut r = Json(info).into_response();
    r.extensions_mut()
        .insert(AuditTarget(format!("index:{name}")));
    Ok(r)
}

/// `GET /catalog/index/{name}?version=…` or `?at=…`: the index commit current then (now,
/// without either).
#[utoipa::path(get, path = "/catalog/index/{name}", tag = "catalog", params(("name" = String, Path), AtParams),
    responses(
        (status = 200, description = "The commit", body = IndexCommitInfo),
        (status = 400, description = "`invalid_as_of`", body = ErrorBody),
        (status = 404, description = "`not_committed` (no commit at or before that version), `version_not_found`", body = ErrorBody),
        (status = 410, description = "`version_expired`", body = ErrorBody),
    ))]
pub async fn index_at(
    State(c): State<Arc<Cat>>,
    Path(name): Path<String>,
    Query(at): Query<AtParams>,
) -> Result<Json<IndexCommitInfo>, ApiError> {
    let as_of = at.as_of()?.unwrap_or(AsOf::Version(c.version()));
    c.index_at(&name, &as_of).map(Json).map_err(api_error)
}
