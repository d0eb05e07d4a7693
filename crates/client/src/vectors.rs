//! Typed client for vectord's routes (`/vectors/...`), directly or through the gateway's `/v1`.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ClientError, ServiceClient};

/// An index's parameters, as vectord reports them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexParams {
    /// Vector length.
    pub dimension: usize,
    /// Graph degree.
    pub m: usize,
    /// Build-time candidate list size.
    pub ef_construction: usize,
    /// Default search-time candidate list size.
    pub ef_search: usize,
    /// `cosine` or `euclidean`.
    pub distance: String,
}

/// `GET /vectors/index/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Parameters.
    pub params: IndexParams,
    /// Live items.
    pub length: usize,
    /// Number of the last write applied.
    #[serde(default)]
    pub version: u64,
    /// The keyword-searchable metadata field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_field: Option<String>,
}

/// One item of an upsert.
#[derive(Debug, Clone, Serialize)]
pub struct VectorItem {
    /// Item id.
    pub id: String,
    /// The vector.
    pub vector: Vec<f32>,
    /// Metadata; `None` keeps what is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// `POST /vectors/index/{name}/add` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct AddResponse {
    /// Items applied.
    pub added: usize,
    /// Live items after.
    pub length: usize,
}

/// One search hit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hit {
    /// Item id.
    pub id: String,
    /// Distance (smaller is closer); NaN for a keyword search alone, which has none.
    #[serde(deserialize_with = "distance_or_nan")]
    pub distance: f32,
    /// With keywords: the BM25 or fused score (higher is better).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Stored metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn distance_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// Keywords for a search of an index with a text field: alone (an empty vector), or fused
/// with the vector by reciprocal rank.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TextQuery {
    /// The keywords.
    pub text: String,
    /// Fusion weights (`{"k": 60, "vector_weight": 1, "text_weight": 1}` when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    results: Vec<Hit>,
}

/// Client for vectord.
#[derive(Debug, Clone)]
pub struct VectorClient {
    inner: ServiceClient,
}

impl VectorClient {
    /// Wraps a base client (vectord's URL, or the gateway's URL + `/v1`).
    pub fn new(inner: ServiceClient) -> Self {
        Self { inner }
    }

    /// `GET /vectors/index/{name}`; `None` when there is no such index.
    pub async fn info(&self, name: &str, rid: &str) -> Result<Option<IndexInfo>, ClientError> {
        let req = self.inner.request(Method::GET, &index_path(name, ""), rid);
        match self.inner.send_json(req).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /vectors/index` with default graph parameters; an index that already exists
    /// (409) is not an error, so two jobs may race to create it.
    pub async fn ensure(
        &self,
        name: &str,
        dimension: usize,
        distance: &str,
        rid: &str,
    ) -> Result<IndexInfo, ClientError> {
        self.ensure_with(name, dimension, distance, None, rid).await
    }

    /// As [`Self::ensure`], creating the index with a keyword-searchable `text_field`.
    pub async fn ensure_with(
        &self,
        name: &str,
        dimension: usize,
        distance: &str,
        text_field: Option<&str>,
        rid: &str,
    ) -> Result<IndexInfo, ClientError> {
        let mut body =
            serde_json::json!({"name": name, "dimension": dimension, "distance": distance});
        if let Some(f) = text_field {
            body["text_field"] = f.into();
        }
        let req = self
            .inner
            .request(Method::POST, "/vectors/index", rid)
            .json(&body);
        match self.inner.send(req).await {
            Ok(_) => {}
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {}
            Err(e) => return Err(e),
        }
        self.info(name, rid)
            .await?
            .ok_or_else(|| ClientError::Decode {
                url: self.inner.url("/vectors/index"),
                message: format!("index '{name}' vanished right after it was created"),
            })
    }

    /// `POST /vectors/index/{name}/add` (an upsert).
    pub async fn add(
        &self,
        name: &str,
        items: &[VectorItem],
        rid: &str,
    ) -> Result<AddResponse, ClientError> {
        let body = serde_json::json!({ "items": items });
        let req = self
            .inner
            .request(Method::POST, &index_path(name, "/add"), rid)
            .json(&body);
        self.inner.send_json(req).await
    }

    /// `POST /vectors/index/{name}/search`.
    pub async fn search(
        &self,
        name: &str,
        vector: &[f32],
        k: usize,
        rid: &str,
    ) -> Result<Vec<Hit>, ClientError> {
        self.search_at(name, vector, k, None, rid).await
    }

    /// As [`Self::search`], as the index was at `as_of` (its commit then) when given.
    pub async fn search_at(
        &self,
        name: &str,
        vector: &[f32],
        k: usize,
        as_of: Option<&lakehouse_types::AsOf>,
        rid: &str,
    ) -> Result<Vec<Hit>, ClientError> {
        self.search_with(name, vector, None, k, as_of, rid).await
    }

    /// As [`Self::search_at`], with keywords too (an empty `vector` searches them alone).
    pub async fn search_with(
        &self,
        name: &str,
        vector: &[f32],
        text: Option<&TextQuery>,
        k: usize,
        as_of: Option<&lakehouse_types::AsOf>,
        rid: &str,
    ) -> Result<Vec<Hit>, ClientError> {
        let mut body = serde_json::json!({ "k": k });
        if !vector.is_empty() {
            body["vector"] = serde_json::json!(vector);
        }
        if let Some(t) = text {
            body["text"] = t.text.clone().into();
            if let Some(f) = &t.fusion {
                body["fusion"] = f.clone();
            }
        }
        if let Some(a) = as_of {
            body["as_of"] = serde_json::to_value(a).unwrap_or_default();
        }
        let req = self
            .inner
            .request(Method::POST, &index_path(name, "/search"), rid)
            .json(&body);
        let res: SearchResponse = self.inner.send_json(req).await?;
        Ok(res.results)
    }

    /// `POST /vectors/index/{name}/commit`: records the index's state under a new catalog
    /// version.
    pub async fn commit(
        &self,
        name: &str,
        rid: &str,
    ) -> Result<lakehouse_types::IndexCommitInfo, ClientError> {
        let req = self
            .inner
            .request(Method::POST, &index_path(name, "/commit"), rid)
            .json(&serde_json::json!({}));
        self.inner.send_json(req).await
    }
}

fn index_path(name: &str, tail: &str) -> String {
    format!(
        "/vectors/index/{}{tail}",
        utf8_percent_encode(name, NON_ALPHANUMERIC)
    )
}
