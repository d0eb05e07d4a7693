//! Index commits and searches as of a catalog version.
//!
//! A commit stores the index's exact state (taken with writes held off, so it is one point
//! in the write sequence) under `_vectors/<name>.commits/<seq>.lhv1` and records it with
//! catalogd under the next catalog version. A search `as_of` a version asks catalogd which
//! state was current then, loads it (decoding off the async runtime, outside every lock the
//! current indexes use) and keeps the most recently used states within a memory budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lakehouse_client::{CatalogClient, ClientError};
use lakehouse_common::ApiError;
use lakehouse_common::error::passthrough;
use lakehouse_types::{AsOf, IndexCommitInfo, IndexCommitRequest};
use lakehouse_vector::{Hit, Index};

use crate::registry::Registry;
use crate::search::{OwnedQuery, refused};
use crate::search_cache::StateId;
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
    /// Commits that catalog versions resolved to, by index name and version.
    resolved: Mutex<HashMap<(String, u64), IndexCommitInfo>>,
    /// Searches as of a version answered by the live index, and by a stored state.
    pub answered: [AtomicU64; 2],
}

/// Version resolutions kept before the map starts over.
const RESOLVED_ENTRIES: usize = 4096;

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
            resolved: Mutex::default(),
            answered: Default::default(),
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
        let info = self
            .catalog
            .commit_index(name, &req, &rid)
            .await
            .map_err(catalog_error)?;
        if let Ok(entry) = reg.get(name) {
            *entry
                .committed
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((info.key.clone(), info.sequence));
        }
        Ok(info)
    }

    /// Searches index `name` as it was at `as_of`: the hits and the catalog version read.
    /// While the live index still holds exactly the commit asked for (the last one this
    /// instance made, and no write since), it is searched instead of a stored copy.
    pub async fn search(
        &self,
        reg: &Registry,
        name: &str,
        as_of: &AsOf,
        query: OwnedQuery,
    ) -> Result<(Vec<Hit>, u64), ApiError> {
        let entry = reg.get(name).ok();
        let is_live = |c: &IndexCommitInfo| {
            entry.as_ref().is_some_and(|e| {
                e.committed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    .is_some_and(|(key, seq)| *key == c.key && *seq == c.sequence)
            })
        };
        // A remembered resolution is trusted only while it names the index's newest commit,
        // which retention never drops; any other is asked of catalogd again.
        let commit = match self.remembered(name, as_of).filter(|c| is_live(c)) {
            Some(c) => c,
            None => self.commit_at(name, as_of).await?,
        };
        // The live index answers while it holds exactly that commit (no write since).
        let live = entry
            .clone()
            .filter(|e| is_live(&commit) && e.index.sequence() == commit.sequence);
        let cache = &reg.search_cache;
        let mut query = query;
        if let Some(entry) = live {
            let generation = entry.index.generation();
            let state = StateId::Live {
                instance: entry.instance,
                generation,
            };
            let key = query.key(cache, state);
            if let Some(c) = key.as_ref().and_then(|k| cache.get(k))
                && c.sequence == commit.sequence
            {
                self.answered[0].fetch_add(1, Ordering::Relaxed);
                return Ok((c.hits.to_vec(), commit.version));
            }
            let seq = commit.sequence;
            let (searched, q, entry) = tokio::task::spawn_blocking(move || {
                let searched = entry.index.search_at_sequence(&query.as_query(), seq);
                (searched, query, entry)
            })
            .await
            .map_err(ApiError::internal)?;
            query = q;
            if let Some(hits) = searched {
                let hits = hits.map_err(|e| refused(&e))?;
                if let Some(key) = key
                    && entry.index.generation() == generation
                {
                    cache.put(key, seq, &hits);
                }
                self.answered[0].fetch_add(1, Ordering::Relaxed);
                return Ok((hits, commit.version));
            }
        }
        self.answered[1].fetch_add(1, Ordering::Relaxed);
        let key = query.key(cache, StateId::Stored(commit.key.clone()));
        if let Some(c) = key.as_ref().and_then(|k| cache.get(k)) {
            return Ok((c.hits.to_vec(), commit.version));
        }
        let hits = self
            .search_stored(&commit, query)
            .await?
            .map_err(|e| refused(&e))?;
        if let Some(key) = key {
            cache.put(key, commit.sequence, &hits);
        }
        Ok((hits, commit.version))
    }

    async fn search_stored(
        &self,
        commit: &IndexCommitInfo,
        query: OwnedQuery,
    ) -> Result<Result<Vec<Hit>, String>, ApiError> {
        let index = self.state(commit).await?;
        tokio::task::spawn_blocking(move || index.search(&query.as_query()))
            .await
            .map_err(ApiError::internal)
    }

    /// The commit a version was last found to resolve to, if remembered.
    fn remembered(&self, name: &str, as_of: &AsOf) -> Option<IndexCommitInfo> {
        let AsOf::Version(v) = as_of else {
            return None;
        };
        let resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        resolved.get(&(name.to_owned(), *v)).cloned()
    }

    /// The commit current at `as_of`, asked of catalogd; what a version resolves to is
    /// remembered (a bounded number) for [`History::remembered`].
    async fn commit_at(&self, name: &str, as_of: &AsOf) -> Result<IndexCommitInfo, ApiError> {
        let commit = self
            .catalog
            .index_at(name, as_of, &rid())
            .await
            .map_err(catalog_error)?;
        if let AsOf::Version(v) = as_of {
            let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
            if resolved.len() >= RESOLVED_ENTRIES {
                resolved.clear();
            }
            resolved.insert((name.to_owned(), *v), commit.clone());
        }
        Ok(commit)
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
