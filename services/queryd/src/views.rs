//! Keeps DuckDB's views in step with the catalog. Before every query the catalog version is
//! checked (one small request), so a query sent after an ingest returned sees it; views of
//! changed or deleted datasets are dropped at once, and a dataset's view is (re)built, with
//! its objects fetched into the cache, when a query names it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use lakehouse_client::{CatalogClient, ClientError};
use lakehouse_common::ApiError;
use lakehouse_types::Manifest;

use crate::cache::{Cache, Pins};
use crate::engine::Engine;

#[derive(Debug, Default)]
struct State {
    catalog_version: Option<u64>,
    /// By lowercased name (SQL names are case-insensitive).
    manifests: HashMap<String, Manifest>,
    /// Views that exist, with the manifest version they show.
    built: HashMap<String, u64>,
}

/// The view keeper.
#[derive(Debug)]
pub struct Views {
    catalog: CatalogClient,
    engine: Arc<Engine>,
    cache: Arc<Cache>,
    state: tokio::sync::Mutex<State>,
}

fn catalog_error(e: &ClientError) -> ApiError {
    ApiError::bad_gateway(format!("catalogd: {e}")).with_code("catalog_unavailable")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

impl Views {
    /// A keeper with nothing loaded yet.
    pub fn new(catalog: CatalogClient, engine: Arc<Engine>, cache: Arc<Cache>) -> Self {
        Self {
            catalog,
            engine,
            cache,
            state: tokio::sync::Mutex::default(),
        }
    }

    async fn sync(&self, st: &mut State, rid: &str) -> Result<(), ApiError> {
        let version = self
            .catalog
            .version(rid)
            .await
            .map_err(|e| catalog_error(&e))?;
        if st.catalog_version == Some(version) {
            return Ok(());
        }
        let list = self
            .catalog
            .list(rid)
            .await
            .map_err(|e| catalog_error(&e))?;
        let fresh: HashMap<String, Manifest> = list
            .manifests
            .into_iter()
            .map(|m| (m.name.to_ascii_lowercase(), m))
            .collect();
        let stale: Vec<String> = st
            .built
            .iter()
            .filter(|(k, v)| fresh.get(*k).is_none_or(|m| m.version != **v))
            .map(|(k, _)| k.clone())
            .collect();
        for name in stale {
            let engine = self.engine.clone();
            let n = name.clone();
            blocking(move || engine.drop_view(&n)).await?;
            st.built.remove(&name);
        }
        st.manifests = fresh;
        st.catalog_version = Some(list.version);
        Ok(())
    }

    /// Brings the views a statement may name up to date and pins their objects for its run.
    pub async fn prepare(&self, identifiers: &[String], rid: &str) -> Result<Vec<Pins>, ApiError> {
        let mut st = self.state.lock().await;
        for attempt in 0..2 {
            self.sync(&mut st, rid).await?;
            match self.build(&mut st, identifiers, rid).await {
                Ok(pins) => return Ok(pins),
                // An object vanished: the dataset changed since the listing. Look again once.
                Err(e) if attempt == 0 && e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                    st.catalog_version = None;
                }
                Err(e) => {
                    return Err(
                        ApiError::bad_gateway(format!("fetching a dataset object: {e}"))
                            .with_code("storage_unavailable"),
                    );
                }
            }
        }
        Err(ApiError::bad_gateway(
            "the catalog kept changing under the query",
        ))
    }

    async fn build(
        &self,
        st: &mut State,
        identifiers: &[String],
        rid: &str,
    ) -> Result<Vec<Pins>, ClientError> {
        let mut wanted: Vec<String> = identifiers
            .iter()
            .filter(|i| st.manifests.contains_key(*i))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut pins = Vec::with_capacity(wanted.len());
        for name in wanted {
            let Some(m) = st.manifests.get(&name) else {
                continue;
            };
            let objects: Vec<(String, u64)> =
                m.objects.iter().map(|o| (o.key.clone(), o.size)).collect();
            pins.push(self.cache.ensure(&objects, rid).await?);
            if st.built.get(&name) == Some(&m.version) {
                continue;
            }
            let files: Vec<PathBuf> = objects.iter().map(|(k, _)| self.cache.path_of(k)).collect();
            let (engine, view, schema) = (self.engine.clone(), m.name.clone(), m.schema.clone());
            let built =
                tokio::task::spawn_blocking(move || engine.set_view(&view, &files, &schema))
                    .await
                    .map_err(|e| ClientError::Decode {
                        url: String::new(),
                        message: e.to_string(),
                    })?;
            built.map_err(|message| ClientError::Decode {
                url: m.name.clone(),
                message,
            })?;
            st.built.insert(name, m.version);
        }
        Ok(pins)
    }

    /// Every dataset as the catalog has it now.
    pub async fn tables(&self, rid: &str) -> Result<Vec<Manifest>, ApiError> {
        let mut st = self.state.lock().await;
        self.sync(&mut st, rid).await?;
        let mut all: Vec<Manifest> = st.manifests.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }
}
