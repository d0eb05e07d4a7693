//! `GET /storage/list?prefix=&after=&limit=`.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lakehouse_common::{ApiError, Principal, Role};
use lakehouse_types::is_internal;
use lakehouse_types::key::MAX_KEY_BYTES;
use lakehouse_types::{ErrorBody, ListResponse, ObjectInfo};
use serde::Deserialize;
use utoipa::IntoParams;

use super::rfc3339;
use crate::{AppState, error};

/// Largest page; larger `limit`s are clamped to it, as S3 does.
pub const MAX_PAGE: usize = 1000;

/// Query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only keys starting with this.
    #[serde(default)]
    #[param(required = false)]
    pub prefix: String,
    /// Only keys sorting after this (exclusive); pass the previous page's `next_after`.
    pub after: Option<String>,
    /// Page size, 1–1000 (default 1000).
    pub limit: Option<String>,
}

/// One page of objects in UTF-8 byte order of their keys.
#[utoipa::path(get, path = "/storage/list", tag = "storage", params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ListResponse),
        (status = 400, description = "`bad_request`: a limit out of range, an over-long prefix", body = ErrorBody),
    ))]
pub async fn list_objects(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => {
            return ApiError::bad_request(format!("invalid query: {}", e.body_text()))
                .into_response();
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => MAX_PAGE,
        Some(Ok(n)) if n >= 1 => n.min(MAX_PAGE),
        Some(_) => {
            return ApiError::bad_request("limit must be an integer from 1 to 1000")
                .into_response();
        }
    };
    for (name, v) in [("prefix", Some(&q.prefix)), ("after", q.after.as_ref())] {
        if let Some(v) = v
            && (v.len() > MAX_KEY_BYTES || v.chars().any(char::is_control))
        {
            return ApiError::bad_request(format!(
                "{name} must be at most {MAX_KEY_BYTES} bytes without control characters"
            ))
            .into_response();
        }
    }
    let admin = principal.is_none_or(|p| p.role >= Role::Admin);
    match state.store.list(&q.prefix, q.after.as_deref(), limit).await {
        Ok(page) => Json(ListResponse {
            // Names of the fleet's own state are shown only to those who may read it.
            objects: page
                .objects
                .into_iter()
                .filter(|m| admin || !is_internal(m.key.as_str()))
                .map(|m| ObjectInfo {
                    key: m.key.into_string(),
                    size: m.size,
                    etag: m.etag,
                    last_modified: rfc3339(m.last_modified),
                })
                .collect(),
            next_after: page.next_after,
            truncated: page.truncated,
        })
        .into_response(),
        Err(e) => error::response(e),
    }
}
