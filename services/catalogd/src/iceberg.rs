//! The read side of the Apache Iceberg REST catalog API over the catalog's datasets, under
//! `/iceberg` (the gateway's `/v1/iceberg`): config, namespaces, tables, load table, and the
//! existence checks. One namespace, [`NAMESPACE`], holds every dataset that exists now,
//! under its own name. Writes stay the lakehouse's own (ingest, the batch jobs): the REST
//! write routes answer 406 `UnsupportedOperationException`.
//!
//! Errors follow the spec's error model (`{"error": {"message", "type", "code"}}`), so Iceberg
//! clients raise their own exceptions (`NoSuchTableException`, …).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Json, Router};
use lakehouse_catalog::CatalogError;
use lakehouse_catalog::iceberg::NAMESPACE;
use lakehouse_common::Principal;
use lakehouse_common::access::caller;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::Cat;

/// What the routes serve from.
#[derive(Debug, Clone)]
pub struct RestState {
    /// The catalog.
    pub catalog: Arc<Cat>,
    /// Storage settings handed to clients (`s3.endpoint`, `s3.region`, …), never credentials:
    /// an outside reader brings its own.
    pub storage: Map<String, Value>,
}

/// An error in the Iceberg REST error model.
#[derive(Debug)]
pub struct RestError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl RestError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn no_namespace(ns: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchNamespaceException",
            format!("namespace '{ns}' does not exist; the only namespace is '{NAMESPACE}'"),
        )
    }
}

/// The Iceberg REST error model: `{"error": {"message", "type", "code"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IcebergErrorModel {
    error: IcebergErrorDetail,
}

/// One Iceberg REST error.
#[derive(Debug, Serialize, ToSchema)]
pub struct IcebergErrorDetail {
    /// A sentence for a person.
    message: String,
    /// The exception a client raises, e.g. `NoSuchTableException`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The HTTP status again.
    code: u16,
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = IcebergErrorModel {
            error: IcebergErrorDetail {
                message: self.message,
                kind: self.kind,
                code: self.status.as_u16(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<CatalogError> for RestError {
    fn from(e: CatalogError) -> Self {
        let message = e.to_string();
        let (status, kind) = match e {
            CatalogError::NotFound(_) => (StatusCode::NOT_FOUND, "NoSuchTableException"),
            CatalogError::NotReady(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
            CatalogError::Storage(_) => (StatusCode::BAD_GATEWAY, "ServiceUnavailableException"),
            CatalogError::Conflict { .. } => (StatusCode::NOT_FOUND, "NotFoundException"),
            CatalogError::Invalid { .. } => (StatusCode::BAD_REQUEST, "BadRequestException"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "ServerErrorException"),
        };
        Self::new(status, kind, message)
    }
}

/// A method router whose other methods answer 406: the REST write routes are not ours.
fn read_only_else<S: Clone + Send + Sync + 'static>(
    (schemas, paths, methods): UtoipaMethodRouter<S>,
) -> UtoipaMethodRouter<S> {
    (schemas, paths, methods.fallback(read_only))
}

fn routes() -> OpenApiRouter<Arc<RestState>> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(read_only_else(routes!(namespaces)))
        .routes(read_only_else(routes!(namespace, namespace_exists)))
        .routes(read_only_else(routes!(tables)))
        .routes(read_only_else(routes!(load_table, table_exists)))
}

/// The routes, under `/iceberg/v1`; anything else under `/iceberg` is the spec's 404.
pub fn router(state: RestState) -> Router {
    routes()
        .split_for_parts()
        .0
        .route("/iceberg/{*rest}", any(unknown_route))
        .with_state(Arc::new(state))
}

/// The OpenAPI document of the Iceberg routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

async fn unknown_route() -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        "no such route in this catalog: it serves config, namespaces, tables and load table",
    )
}

async fn read_only() -> RestError {
    RestError::new(
        StatusCode::NOT_ACCEPTABLE,
        "UnsupportedOperationException",
        "this catalog is read-only over REST: datasets are written through /v1/ingest and the batch jobs",
    )
}

const ENDPOINTS: [&str; 7] = [
    "GET /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "GET /v1/config",
];

/// `GET /v1/config`: no prefix, the storage settings as defaults, the routes served.
#[utoipa::path(get, path = "/iceberg/v1/config", tag = "iceberg",
    responses((status = 200, description = "Iceberg REST CatalogConfig", body = serde_json::Value)))]
async fn config(State(s): State<Arc<RestState>>) -> Json<Value> {
    Json(json!({
        "defaults": s.storage,
        "overrides": {},
        "endpoints": ENDPOINTS,
    }))
}

fn check_namespace(ns: &str) -> Result<(), RestError> {
    // Multi-level namespaces arrive joined by 0x1F; ours has one level.
    if ns == NAMESPACE {
        Ok(())
    } else {
        Err(RestError::no_namespace(&ns.replace('\u{1f}', ".")))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NamespacesQuery {
    /// List the namespaces under this one.
    parent: Option<String>,
}

const NS_ERRORS: &str = "Iceberg error model; `NoSuchNamespaceException`";

/// Iceberg REST `listNamespaces`: the one namespace.
#[utoipa::path(get, path = "/iceberg/v1/namespaces", tag = "iceberg", params(NamespacesQuery),
    responses(
        (status = 200, description = "ListNamespacesResponse", body = serde_json::Value),
        (status = 404, description = NS_ERRORS, body = IcebergErrorModel),
        (status = 406, description = "`UnsupportedOperationException`: writes are not served", body = IcebergErrorModel),
    ))]
async fn namespaces(Query(q): Query<NamespacesQuery>) -> Result<Json<Value>, RestError> {
    let list = match q.parent.as_deref() {
        None | Some("") => vec![vec![NAMESPACE]],
        Some(p) => {
            check_namespace(p)?;
            Vec::new()
        }
    };
    Ok(Json(json!({"namespaces": list})))
}

/// Iceberg REST `loadNamespaceMetadata`.
#[utoipa::path(get, path = "/iceberg/v1/namespaces/{ns}", tag = "iceberg", params(("ns" = String, Path)),
    responses(
        (status = 200, description = "GetNamespaceResponse", body = serde_json::Value),
        (status = 404, description = NS_ERRORS, body = IcebergErrorModel),
        (status = 406, description = "`UnsupportedOperationException`: writes are not served", body = IcebergErrorModel),
    ))]
async fn namespace(Path(ns): Path<String>) -> Result<Json<Value>, RestError> {
    check_namespace(&ns)?;
    Ok(Json(json!({
        "namespace": [NAMESPACE],
        "properties": {"comment": "every dataset of the lakehouse catalog"},
    })))
}

/// Iceberg REST `namespaceExists`.
#[utoipa::path(head, path = "/iceberg/v1/namespaces/{ns}", tag = "iceberg", params(("ns" = String, Path)),
    responses(
        (status = 204, description = "It exists"),
        (status = 404, description = NS_ERRORS, body = IcebergErrorModel),
    ))]
async fn namespace_exists(Path(ns): Path<String>) -> Result<StatusCode, RestError> {
    check_namespace(&ns)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// With a token (even empty), pages of `pageSize`; the next one starts after it.
    #[serde(rename = "pageToken")]
    #[param(rename = "pageToken")]
    page_token: Option<String>,
    /// Tables per page, at least 1.
    #[serde(rename = "pageSize")]
    #[param(rename = "pageSize")]
    page_size: Option<String>,
}

/// Iceberg REST `listTables`: every dataset the caller may read.
#[utoipa::path(get, path = "/iceberg/v1/namespaces/{ns}/tables", tag = "iceberg",
    params(("ns" = String, Path), PageQuery),
    responses(
        (status = 200, description = "ListTablesResponse", body = serde_json::Value),
        (status = 400, description = "`BadRequestException`: a bad pageSize", body = IcebergErrorModel),
        (status = 404, description = NS_ERRORS, body = IcebergErrorModel),
        (status = 406, description = "`UnsupportedOperationException`: writes are not served", body = IcebergErrorModel),
    ))]
async fn tables(
    State(s): State<Arc<RestState>>,
    principal: Option<Extension<Principal>>,
    Path(ns): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, RestError> {
    check_namespace(&ns)?;
    let who = caller(principal);
    let (manifests, _) = s.catalog.list()?;
    let mut names: Vec<String> = manifests
        .into_iter()
        .map(|m| m.name)
        .filter(|n| who.may_dataset(n))
        .collect();
    names.sort();
    // As the spec says: without a `pageToken` everything comes in one answer; with one
    // (even empty) pages of `pageSize`.
    let page_size = match q.page_size.as_deref().map(str::parse::<usize>) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "pageSize must be a whole number of at least 1",
            ));
        }
    };
    let paging = q.page_token.is_some();
    let after = q.page_token.filter(|t| !t.is_empty());
    let start = after
        .as_ref()
        .map_or(0, |a| names.partition_point(|n| n <= a));
    let size = page_size.filter(|_| paging).unwrap_or(usize::MAX);
    let page: Vec<&String> = names[start..].iter().take(size).collect();
    let more = start + page.len() < names.len();
    let mut body = json!({
        "identifiers": page
            .iter()
            .map(|n| json!({"namespace": [NAMESPACE], "name": n}))
            .collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, page.last()) {
        body["next-page-token"] = json!(last);
    }
    Ok(Json(body))
}

/// Iceberg REST `loadTable`: format-version 2 metadata of the dataset's current snapshot.
#[utoipa::path(get, path = "/iceberg/v1/namespaces/{ns}/tables/{table}", tag = "iceberg",
    params(("ns" = String, Path), ("table" = String, Path)),
    responses(
        (status = 200, description = "LoadTableResult", body = serde_json::Value),
        (status = 404, description = "Iceberg error model; `NoSuchNamespaceException`, `NoSuchTableException`", body = IcebergErrorModel),
        (status = 406, description = "`UnsupportedOperationException`: writes are not served", body = IcebergErrorModel),
    ))]
async fn load_table(
    State(s): State<Arc<RestState>>,
    Path((ns, table)): Path<(String, String)>,
) -> Result<Json<Value>, RestError> {
    check_namespace(&ns)?;
    let t = s.catalog.iceberg_table(&table).await?;
    Ok(Json(json!({
        "metadata-location": t.metadata_location,
        "metadata": t.metadata,
        "config": s.storage,
    })))
}

/// Iceberg REST `tableExists`.
#[utoipa::path(head, path = "/iceberg/v1/namespaces/{ns}/tables/{table}", tag = "iceberg",
    params(("ns" = String, Path), ("table" = String, Path)),
    responses(
        (status = 204, description = "It exists"),
        (status = 404, description = "Iceberg error model; `NoSuchNamespaceException`, `NoSuchTableException`", body = IcebergErrorModel),
    ))]
async fn table_exists(
    State(s): State<Arc<RestState>>,
    Path((ns, table)): Path<(String, String)>,
) -> Result<StatusCode, RestError> {
    check_namespace(&ns)?;
    s.catalog.get(&table)?;
    Ok(StatusCode::NO_CONTENT)
}
