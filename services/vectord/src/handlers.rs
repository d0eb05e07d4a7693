//! The HTTP side of vectord: request shapes, their validation and the answers.
//!
//! Writes run as their own tasks: a client that hangs up mid-write cannot cut a write between
//! its log record and its apply.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lakehouse_common::access::caller;
use lakehouse_common::audit::AuditTarget;
use lakehouse_common::extract::JsonBody;
use lakehouse_common::{ApiError, Principal};
use lakehouse_types::{ErrorBody, IndexCommitInfo};
use lakehouse_vector::{Item, Metadata, Metric, Params};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::registry::{Entry, MergeOutcome, Registry};

type Reg = State<Arc<Registry>>;

/// `POST /vectors/index`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Index name: letters, digits, `_`, `-`, `.`; at most 128 bytes.
    name: String,
    /// Vector length, 1..=4096.
    dimension: usize,
    /// Neighbours per node, 2..=100 (default 16).
    m: Option<usize>,
    /// Candidate list while inserting, 1..=4096 (default 200).
    ef_construction: Option<usize>,
    /// Default candidate list while searching, 1..=4096 (default 64).
    ef_search: Option<usize>,
    /// `cosine` (default) or `euclidean`.
    distance: Option<Metric>,
    /// A metadata field (a string, or a list of strings) to keep a BM25 keyword index over,
    /// so searches may give `text`; fixed at creation.
    #[serde(default)]
    text_field: Option<String>,
}

/// One item of an add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemIn {
    /// Non-empty id; an existing id is replaced.
    id: String,
    /// Exactly `dimension` finite numbers.
    vector: Vec<f32>,
    /// Flat JSON object a search filter can match.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Metadata>,
}

/// Items whose decode errors name their position (`items[j]: …`).
#[derive(Debug)]
pub struct Items(Vec<Item>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of {id, vector, metadata?} items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                loop {
                    match seq.next_element::<ItemIn>() {
                        Ok(Some(it)) => out.push(Item {
                            id: it.id,
                            vector: it.vector,
                            metadata: it.metadata,
                        }),
                        Ok(None) => return Ok(Items(out)),
                        Err(e) => {
                            return Err(de::Error::custom(format_args!(
                                "items[{}]: {e}",
                                out.len()
                            )));
                        }
                    }
                }
            }
        }
        d.deserialize_seq(V)
    }
}

/// `POST /vectors/index/{name}/add`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// The items, written in order.
    #[schema(value_type = Vec<ItemIn>)]
    items: Items,
}

/// `POST /vectors/index/{name}/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Ids to remove; unknown ids are skipped.
    ids: Vec<String>,
}

/// `POST /vectors/index/{name}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The index the items go to (same dimension and distance).
    dest: String,
    /// Empty the source afterwards.
    #[serde(default)]
    clear_source: bool,
}

/// An index: its parameters, size and write version.
#[derive(Serialize, ToSchema)]
pub struct IndexInfo {
    name: String,
    params: Params,
    length: usize,
    tombstones: usize,
    /// The number of the last write applied: it grows with every add or delete, so a reader
    /// can name the state of the index it searched.
    version: u64,
    /// The keyword-searchable metadata field, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    text_field: Option<String>,
}

/// `GET /vectors/index`.
#[derive(Serialize, ToSchema)]
pub struct IndexList {
    /// How many indexes the caller may see.
    count: usize,
    /// Their names.
    names: Vec<String>,
}

/// `POST /vectors/index/{name}/add`.
#[derive(Serialize, ToSchema)]
pub struct AddResponse {
    /// Items written.
    added: usize,
    /// Live items afterwards.
    length: usize,
}

/// `POST /vectors/index/{name}/delete`.
#[derive(Serialize, ToSchema)]
pub struct DeleteResponse {
    /// Items removed.
    deleted: usize,
    /// Live items afterwards.
    length: usize,
}

/// `GET /vectors/index/{name}/items/{id}`.
#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    id: String,
    /// As stored (unit length under cosine).
    vector: Vec<f32>,
    #[schema(value_type = Object)]
    metadata: Metadata,
}

fn info(e: &Entry) -> IndexInfo {
    let s = e.index.stats();
    IndexInfo {
        name: e.name.clone(),
        params: e.index.params(),
        length: s.length,
        tombstones: s.tombstones,
        version: e.index.sequence(),
        text_field: e.index.text_field(),
    }
}

/// Runs a write to completion even if the client goes away.
async fn detached<T: Send + 'static>(
    f: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    let rid = lakehouse_common::request_id::current().unwrap_or_default();
    tokio::spawn(lakehouse_common::request_id::scope(rid, f))
        .await
        .map_err(ApiError::internal)?
}

/// `POST /vectors/index`: 201 with the params, 409 when the name is taken.
#[utoipa::path(post, path = "/vectors/index", tag = "vectors", request_body = CreateRequest,
    responses(
        (status = 201, description = "Created", body = IndexInfo),
        (status = 400, description = "`bad_request`: a name or parameter out of range", body = ErrorBody),
        (status = 409, description = "`conflict`: the name is taken", body = ErrorBody),
    ))]
pub async fn create(
    State(reg): Reg,
    principal: Option<Extension<Principal>>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_index(&req.name)?;
    let target = AuditTarget(format!("index:{}", req.name));
    let mut params = Params::new(req.dimension);
    params.m = req.m.unwrap_or(params.m);
    params.ef_construction = req.ef_construction.unwrap_or(params.ef_construction);
    params.ef_search = req.ef_search.unwrap_or(params.ef_search);
    params.distance = req.distance.unwrap_or(params.distance);
    let text_field = req.text_field;
    let entry =
        detached(async move { reg.create(&req.name, params, text_field.as_deref()).await }).await?;
    Ok((StatusCode::CREATED, Extension(target), Json(info(&entry))).into_response())
}

/// `GET /vectors/index`.
#[utoipa::path(get, path = "/vectors/index", tag = "vectors",
    responses((status = 200, description = "The indexes the caller may see", body = IndexList)))]
pub async fn list(
    State(reg): Reg,
    principal: Option<Extension<Principal>>,
) -> Result<Json<IndexList>, ApiError> {
    if let Some(why) = reg.not_ready() {
        return Err(ApiError::unavailable(why).with_code("not_ready"));
    }
    let who = caller(principal);
    let names: Vec<String> = reg
        .entries()
        .iter()
        .filter(|e| who.may_index(&e.name))
        .map(|e| e.name.clone())
        .collect();
    Ok(Json(IndexList {
        count: names.len(),
        names,
    }))
}

/// `GET /vectors/index/{name}`.
#[utoipa::path(get, path = "/vectors/index/{name}", tag = "vectors", params(("name" = String, Path)),
    responses(
        (status = 200, description = "The index", body = IndexInfo),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn get_index(State(reg): Reg, Path(name): Path<String>) -> Result<Response, ApiError> {
    let entry = reg.get(&name)?;
    Ok(Json(info(&entry)).into_response())
}

/// `DELETE /vectors/index/{name}`: 204 once its objects are gone from storage.
#[utoipa::path(delete, path = "/vectors/index/{name}", tag = "vectors", params(("name" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn delete_index(
    State(reg): Reg,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    detached(async move { reg.delete(&name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /vectors/index/{name}/add`: acknowledged once the write is in the index's log.
#[utoipa::path(post, path = "/vectors/index/{name}/add", tag = "vectors", params(("name" = String, Path)),
    request_body = AddRequest,
    responses(
        (status = 200, description = "Written", body = AddResponse),
        (status = 400, description = "`bad_request`: a wrong dimension, a non-finite number, an empty id (`items[j]` names it)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn add(
    State(reg): Reg,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<AddRequest>,
) -> Result<Json<AddResponse>, ApiError> {
    let (added, length) = detached(async move { reg.add(&name, req.items.0).await }).await?;
    Ok(Json(AddResponse { added, length }))
}

/// `POST /vectors/index/{name}/delete`.
#[utoipa::path(post, path = "/vectors/index/{name}/delete", tag = "vectors", params(("name" = String, Path)),
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "Removed", body = DeleteResponse),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn delete_items(
    State(reg): Reg,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<DeleteRequest>,
) -> Result<Json<DeleteResponse>, ApiError> {
    let (deleted, length) = detached(async move { reg.delete_items(&name, req.ids).await }).await?;
    Ok(Json(DeleteResponse { deleted, length }))
}

/// `GET /vectors/index/{name}/items/{id}`: the vector as stored (unit length under cosine).
#[utoipa::path(get, path = "/vectors/index/{name}/items/{id}", tag = "vectors",
    params(("name" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "The item", body = ItemOut),
        (status = 404, description = "`not_found`: no such index or item", body = ErrorBody),
    ))]
pub async fn get_item(
    State(reg): Reg,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<ItemOut>, ApiError> {
    let entry = reg.get(&name)?;
    let (vector, metadata) = entry
        .index
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("index '{name}' has no item '{id}'")))?;
    Ok(Json(ItemOut {
        id,
        vector,
        metadata,
    }))
}

/// `POST /vectors/index/{name}/commit`: records the index's state now under a new catalog
/// version, which later searches can name as `as_of`.
#[utoipa::path(post, path = "/vectors/index/{name}/commit", tag = "vectors", params(("name" = String, Path)),
    responses(
        (status = 200, description = "Recorded", body = IndexCommitInfo),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn commit(State(reg): Reg, Path(name): Path<String>) -> Result<Response, ApiError> {
    let info = reg.history()?.commit(&reg, &name).await?;
    let mut r = Json(info).into_response();
    r.extensions_mut()
        .insert(AuditTarget(format!("index:{name}")));
    Ok(r)
}

/// `POST /vectors/index/{name}/merge`: copies every item into `dest`.
#[utoipa::path(post, path = "/vectors/index/{name}/merge", tag = "vectors", params(("name" = String, Path)),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged", body = MergeOutcome),
        (status = 400, description = "`bad_request`: the indexes differ in dimension or distance, or are the same", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn merge(
    State(reg): Reg,
    principal: Option<Extension<Principal>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<MergeRequest>,
) -> Result<Response, ApiError> {
    caller(principal).require_index(&req.dest)?;
    let out = detached(async move { reg.merge(&name, &req.dest, req.clear_source).await }).await?;
    Ok(Json(out).into_response())
}
