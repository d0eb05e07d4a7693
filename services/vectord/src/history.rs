//! Index commits and searches as of a catalog version.
//!
//! A commit stores the index's exact state (taken with writes held off, so it is one point
//! in the write sequence) under `_vectors/<name>.commits/<seq>.lhv1` and records it with
//! catalogd under the next catalog version. A search `as_of` a version asks catalogd which
//! state was current then, loads it (decoding off the async runtime, outside every lock the
//! current indexes use) and keeps the most recently used states within a memory budget.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lakehouse_client::{CatalogClient, ClientError};
use lakehouse_common::ApiError;
use lakehouse_common::error::passthrough;
use lakehouse_types::{AsOf, IndexCommitInfo, IndexCommitRequest};
use lakehouse_vector::{Hit, Index, Query};

use crate::registry::Registry;
use crate::store::Store;

/// A loaded past state and its size in bytes.
type Loaded = (String, Arc<Index>, u64);

/// Commits and past states.
#[derive(Debug)]
pub struct History {
    catalog: CatalogClient,
    store: Store,
    budget: u64,
    /// Most recently used last.
    loaded: Mutex<Vec<Loaded>>,
    /// One load at a time, so a burst of searches of one cold state loads it once.
    loading: tokio::sync::Mutex<()>,
}

fn rid() -> String {
    lakehouse_common::request_id::current().unwrap_or_else(lakehouse_common::request_id::generate)
}

fn catalog_error(e: ClientError) -> ApiError {
    passthrough(e, "catalogd", "catalog_unavailable")
}

impl History {
    /// Over catalogd and the index store, keeping up to `budget_bytes` of past states.
    pub fn new(catalog: CatalogClient, store: Store, budget_bytes: u64) -> Self {
        Self {
            catalog,
            store,
            budget: budget_bytes,
            loaded: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Stores index `name`'s state now and records it under the next catalog version.
    pub async fn commit(&self, reg: &Registry, name: &str) -> Result<IndexCommitInfo, ApiError> {
        let state = reg.state_for_commit(name).await?;
        let rid = rid();
        let key = self
            .store
            .put_commit(name, state.sequence, state.bytes, &rid)
            .await
            .map_err(|e| {
                ApiError::bad_gateway(format!("storing the committed state: {e}"))
                    .with_code("storage_unavailable")
            })?;
        let req = IndexCommitRequest {
            key,
            sequence: state.sequence,
            items: state.items as u64,
            dimension: state.dimension as u64,
        };
        self.catalog
            .commit_index(name, &req, &rid)
            .await
            .map_err(catalog_error)
    }

    /// Searches index `name` as it was at `as_of`: the hits and the catalog version read.
    pub async fn search(
        &self,
        name: &str,
        as_of: &AsOf,
        query: OwnedQuery,
    ) -> Result<(Vec<Hit>, u64), ApiError> {
        let commit = self
            .catalog
            .index_at(name, as_of, &rid())
            .await
            .map_err(catalog_error)?;
        let index = self.state(&commit).await?;
        let hits = tokio::task::spawn_blocking(move || {
            index.search(&Query {
                vector: &query.vector,
                k: query.k,
                ef: query.ef,
                exclude: query.exclude.as_ref(),
                filter: query.filter.as_ref(),
            })
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request(format!("vector: {e}")).with_code("invalid_vector"))?;
        Ok((hits, commit.version))
    }

    fn cached(&self, key: &str) -> Option<Arc<Index>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let i = loaded.iter().position(|(k, _, _)| k == key)?;
        let hit = loaded.remove(i);
        let index = hit.1.clone();
        loaded.push(hit);
        Some(index)
    }

    async fn state(&self, commit: &IndexCommitInfo) -> Result<Arc<Index>, ApiError> {
        if let Some(ix) = self.cached(&commit.key) {
            return Ok(ix);
        }
        let _one = self.loading.lock().await;
        if let Some(ix) = self.cached(&commit.key) {
            return Ok(ix);
        }
        let gone = || {
            ApiError::new(
                axum::http::StatusCode::GONE,
                "version_expired",
                format!(
                    "index '{}' at catalog version {} was dropped by retention",
                    commit.name, commit.version
                ),
            )
        };
        let bytes = tokio::time::timeout(
            Duration::from_secs(600),
            self.store.get_commit(&commit.key, &rid()),
        )
        .await
        .map_err(|_| ApiError::gateway_timeout("loading a committed index state timed out"))?
        .map_err(|e| {
            ApiError::bad_gateway(format!("loading a committed index state: {e}"))
                .with_code("storage_unavailable")
        })?
        .ok_or_else(gone)?;
        let size = bytes.len() as u64;
        let index = tokio::task::spawn_blocking(move || Index::decode(&bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("{}: {e}", commit.key)))?;
        let index = Arc::new(index);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.push((commit.key.clone(), index.clone(), size));
        // The state just loaded stays even when it alone is over the budget.
        while loaded.len() > 1 && loaded.iter().map(|(_, _, s)| s).sum::<u64>() > self.budget {
            loaded.remove(0);
        }
        Ok(index)
    }

    /// Bytes of past states held, and how many.
    pub fn usage(&self) -> (u64, usize) {
        let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        (loaded.iter().map(|(_, _, s)| s).sum(), loaded.len())
    }
}

/// A search's arguments, owned (it runs on a blocking thread).
#[derive(Debug)]
pub struct OwnedQuery {
    /// The query vector.
    pub vector: Vec<f32>,
    /// Results wanted.
    pub k: usize,
    /// Search breadth.
    pub ef: Option<usize>,
    /// Ids never returned.
    pub exclude: Option<std::collections::HashSet<String>>,
    /// Metadata every result matches.
    pub filter: Option<lakehouse_vector::Metadata>,
}
