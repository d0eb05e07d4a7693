//! `POST /vectors/index/{name}/search`: nearest neighbours of a vector, BM25 over the index's
//! text field, or both fused by reciprocal rank — with filters and exclusions applied inside
//! each ranking, live or as of a catalog version, repeated searches answered from the cache.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use lakehouse_common::ApiError;
use lakehouse_common::extract::JsonBody;
use lakehouse_types::ErrorBody;
use lakehouse_vector::{Fusion, Hit, MAX_EF, MAX_K, Metadata, NO_TEXT_FIELD, Query};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::registry::Registry;
use crate::search_cache::{Key, SearchCache, StateId};

/// Longest keyword query accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 << 10;

/// A search's arguments, owned (it runs on a blocking thread).
#[derive(Debug, Clone)]
pub struct OwnedQuery {
    /// The query vector (empty for a keyword search alone).
    pub vector: Vec<f32>,
    /// Keywords for the index's text field.
    pub text: Option<String>,
    /// How a hybrid search weighs its rankings.
    pub fusion: Option<Fusion>,
    /// Results wanted.
    pub k: usize,
    /// Search breadth.
    pub ef: Option<usize>,
    /// Ids never returned.
    pub exclude: Option<HashSet<String>>,
    /// Metadata every result matches.
    pub filter: Option<Metadata>,
}

impl OwnedQuery {
    /// The borrowed form the index searches with.
    pub fn as_query(&self) -> Query<'_> {
        Query {
            vector: &self.vector,
            k: self.k,
            ef: self.ef,
            exclude: self.exclude.as_ref(),
            filter: self.filter.as_ref(),
            text: self.text.as_deref(),
            fusion: self.fusion,
        }
    }

    /// Its repeat-cache key over `state` (`None` while the cache is off).
    pub fn key(&self, cache: &SearchCache, state: StateId) -> Option<Key> {
        cache.key(state, &self.as_query())
    }
}

/// A search the index refused: 400, with the code saying which part.
pub fn refused(e: &str) -> ApiError {
    let code = if e == NO_TEXT_FIELD {
        "no_text_field"
    } else if e.starts_with("fusion") {
        "invalid_fusion"
    } else {
        "invalid_vector"
    };
    let what = if code == "invalid_vector" {
        "vector: "
    } else {
        ""
    };
    ApiError::bad_request(format!("{what}{e}")).with_code(code)
}

impl Registry {
    /// Searches the live index, answering a repeat from the cache.
    pub async fn search(&self, name: &str, query: OwnedQuery) -> Result<Vec<Hit>, ApiError> {
        let entry = self.get(name)?;
        let start = Instant::now();
        let generation = entry.index.generation();
        let state = StateId::Live {
            instance: entry.instance,
            generation,
        };
        let key = query.key(&self.search_cache, state);
        if let Some(cached) = key.as_ref().and_then(|k| self.search_cache.get(k)) {
            entry.searches.observe(start.elapsed());
            return Ok(cached.hits.to_vec());
        }
        let e = entry.clone();
        let (hits, sequence) = tokio::task::spawn_blocking(move || {
            let sequence = e.index.sequence();
            (e.index.search(&query.as_query()), sequence)
        })
        .await
        .map_err(ApiError::internal)?;
        let hits = hits.map_err(|e| refused(&e))?;
        // Kept only if no write landed while it ran: then it is exactly that generation's answer.
        if let Some(key) = key
            && entry.index.generation() == generation
        {
            self.search_cache.put(key, sequence, &hits);
        }
        entry.searches.observe(start.elapsed());
        Ok(hits)
    }
}

/// How a hybrid search weighs its rankings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FusionIn {
    /// The rank constant: an item scores `weight / (k + rank)` in each list (default 60).
    k: Option<f32>,
    /// Weight of the vector ranking (default 1).
    vector_weight: Option<f32>,
    /// Weight of the keyword ranking (default 1).
    text_weight: Option<f32>,
}

/// `POST /vectors/index/{name}/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query: exactly `dimension` finite numbers. Give it, `text`, or both.
    #[serde(default)]
    vector: Option<Vec<f32>>,
    /// Keywords, scored by BM25 over the index's `text_field` (at most 8 KiB); with `vector`
    /// too, the two rankings are fused.
    #[serde(default)]
    text: Option<String>,
    /// With both `vector` and `text`: how the rankings are fused.
    #[serde(default)]
    fusion: Option<FusionIn>,
    /// Results wanted, 1..=1000 (default 10; more is served as 1000).
    k: Option<usize>,
    /// Candidate list for this search, 1..=4096 (default: the index's `ef_search`).
    ef: Option<usize>,
    /// Ids never returned; applied inside the walk.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    exclude_ids: Option<HashSet<String>>,
    /// Metadata fields a result must equal; applied inside the walk.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filter: Option<Metadata>,
    /// Search the index as it was at this catalog version or time (its commit then).
    #[serde(default)]
    as_of: Option<lakehouse_types::AsOf>,
}

/// One search result.
#[derive(Serialize, ToSchema)]
pub struct HitOut {
    id: String,
    /// Smaller is closer; `null` for a keyword search alone.
    distance: Option<f32>,
    /// With `text`: the BM25 score, or the fused score of a hybrid search (higher is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[schema(value_type = Object)]
    metadata: Metadata,
}

/// The answer.
#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// Best first.
    results: Vec<HitOut>,
    /// With `as_of`: the catalog version of the index state searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog_version: Option<u64>,
}

fn bad(code: &'static str, msg: String) -> ApiError {
    ApiError::bad_request(msg).with_code(code)
}

fn owned(req: SearchRequest) -> Result<(OwnedQuery, Option<lakehouse_types::AsOf>), ApiError> {
    // The contract caps k at 1000: a larger k is served as 1000, as the reference design does.
    let k = req.k.unwrap_or(10).min(MAX_K);
    if k == 0 {
        return Err(bad(
            "invalid_k",
            format!("k is 0; it must be at least 1 (at most {MAX_K} are returned)"),
        ));
    }
    if let Some(ef) = req.ef
        && !(1..=MAX_EF).contains(&ef)
    {
        return Err(bad(
            "invalid_ef",
            format!("ef is {ef}; it must be between 1 and {MAX_EF}"),
        ));
    }
    let vector = req.vector.unwrap_or_default();
    let text = req.text.filter(|t| !t.trim().is_empty());
    if vector.is_empty() && text.is_none() {
        return Err(bad(
            "invalid_query",
            "give a vector, a non-empty text, or both".into(),
        ));
    }
    if text.as_ref().is_some_and(|t| t.len() > MAX_TEXT_BYTES) {
        return Err(bad(
            "invalid_query",
            format!("text is longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    let fusion = req.fusion.map(|f| {
        let d = Fusion::default();
        Fusion {
            k: f.k.unwrap_or(d.k),
            vector_weight: f.vector_weight.unwrap_or(d.vector_weight),
            text_weight: f.text_weight.unwrap_or(d.text_weight),
        }
    });
    if let Some(f) = &fusion {
        f.check().map_err(|e| bad("invalid_fusion", e))?;
    }
    let query = OwnedQuery {
        vector,
        text,
        fusion,
        k,
        ef: req.ef,
        exclude: req.exclude_ids,
        filter: req.filter,
    };
    Ok((query, req.as_of))
}

/// `POST /vectors/index/{name}/search`: the `k` best items that pass the filter.
#[utoipa::path(post, path = "/vectors/index/{name}/search", tag = "vectors", params(("name" = String, Path)),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "Best first", body = SearchResponse),
        (status = 400, description = "`invalid_k`, `invalid_ef`, `invalid_query` (no vector and no text), `invalid_fusion`, `no_text_field` (text on an index without one), `invalid_as_of`, `invalid_vector` (a wrong dimension, a non-finite number)", body = ErrorBody),
        (status = 404, description = "`not_found`; with `as_of`, `not_committed` (no commit at or before that version) or `version_not_found`", body = ErrorBody),
        (status = 410, description = "`version_expired`: retention dropped that state", body = ErrorBody),
    ))]
pub async fn search(
    State(reg): State<Arc<Registry>>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Result<Response, ApiError> {
    let (query, as_of) = owned(req)?;
    let (hits, version) = match &as_of {
        None => (reg.search(&name, query).await?, None),
        Some(as_of) => {
            let (hits, v) = reg.history()?.search(&reg, &name, as_of, query).await?;
            (hits, Some(v))
        }
    };
    let results: Vec<HitOut> = hits
        .into_iter()
        .map(|h| HitOut {
            id: h.id,
            distance: h.distance.is_finite().then_some(h.distance),
            score: h.score,
            metadata: h.metadata,
        })
        .collect();
    Ok(Json(SearchResponse {
        results,
        catalog_version: version,
    })
    .into_response())
}
