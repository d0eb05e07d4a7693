//! Keeps DuckDB's views in step with the catalog. Before every query the catalog version is
//! checked (one small request), so a query sent after an ingest returned sees it; views of
//! changed or deleted datasets are dropped at once, and a dataset's view is (re)built, with
//! its objects fetched into the cache, when a query names it.
//!
//! A query `as_of` an older version gets temporary views of the datasets as they were then,
//! for its own connection and run only; the shared views stay current.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use lakehouse_client::{CatalogClient, ClientError};
use lakehouse_common::ApiError;
use lakehouse_common::error::passthrough;
use lakehouse_types::{AsOf, Manifest, ManifestList};

use crate::cache::{Cache, Pins};
use crate::engine::{Engine, TempView};

/// What one query reads: the views it needs pinned, and the version they are at.
#[derive(Debug)]
pub struct Prepared {
    /// Keeps the objects in the cache while the query runs.
    pub pins: Vec<Pins>,
    /// Views in place of the shared ones (a query as of an older version).
    pub temp_views: Vec<TempView>,
    /// The catalog version read.
    pub version: u64,
    /// Holds the shared views as they are until the query has bound to them (drop it then),
    /// so the version named is exactly the one read.
    pub hold: Option<tokio::sync::OwnedRwLockReadGuard<()>>,
}

#[derive(Debug, Default)]
struct State {
    catalog_version: Option<u64>,
    /// By lowercased name (SQL names are case-insensitive).
    manifests: HashMap<String, Manifest>,
    /// Views that exist, with the catalog version of the snapshot they show.
    built: HashMap<String, u64>,
}

/// The view keeper.
#[derive(Debug)]
pub struct Views {
    catalog: CatalogClient,
    engine: Arc<Engine>,
    cache: Arc<Cache>,
    state: tokio::sync::Mutex<State>,
    /// Written while views change; read from a query's preparation until it has bound.
    in_use: Arc<tokio::sync::RwLock<()>>,
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
            in_use: Arc::default(),
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
            .filter(|(k, v)| fresh.get(*k).is_none_or(|m| m.catalog_version != **v))
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
    pub async fn prepare(&self, identifiers: &[String], rid: &str) -> Result<Prepared, ApiError> {
        let mut st = self.state.lock().await;
        let changing = self.in_use.clone().write_owned().await;
        for attempt in 0..2 {
            self.sync(&mut st, rid).await?;
            match self.build(&mut st, identifiers, rid).await {
                Ok(pins) => {
                    return Ok(Prepared {
                        pins,
                        temp_views: Vec::new(),
                        version: st.catalog_version.unwrap_or(0),
                        hold: Some(changing.downgrade()),
                    });
                }
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
            if st.built.get(&name) == Some(&m.catalog_version) {
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
            st.built.insert(name, m.catalog_version);
        }
        Ok(pins)
    }

    /// Every dataset at a past point. Asked every time: retention may have expired it since.
    async fn list_at(&self, as_of: &AsOf, rid: &str) -> Result<ManifestList, ApiError> {
        self.catalog
            .list_at(as_of, rid)
            .await
            .map_err(|e| passthrough(e, "catalogd", "catalog_unavailable"))
    }

    /// The datasets a statement may name as they were at `as_of`, as temporary views, with
    /// their objects fetched and pinned. A dataset that exists now but did not then fails the
    /// query if it reads it; one whose state then was expired refuses the query (410).
    pub async fn prepare_as_of(
        &self,
        identifiers: &[String],
        as_of: &AsOf,
        rid: &str,
    ) -> Result<Prepared, ApiError> {
        let then = self.list_at(as_of, rid).await?;
        if let Some(e) = then
            .expired
            .iter()
            .find(|n| identifiers.contains(&n.to_ascii_lowercase()))
        {
            return Err(ApiError::new(
                StatusCode::GONE,
                "version_expired",
                format!(
                    "dataset '{e}' at catalog version {} was dropped by retention",
                    then.version
                ),
            ));
        }
        let now = self.tables(rid).await?;
        let mut pins = Vec::new();
        let mut temp_views = Vec::new();
        for m in then
            .manifests
            .iter()
            .filter(|m| identifiers.contains(&m.name.to_ascii_lowercase()))
        {
            let objects: Vec<(String, u64)> =
                m.objects.iter().map(|o| (o.key.clone(), o.size)).collect();
            pins.push(self.cache.ensure(&objects, rid).await.map_err(|e| {
                if e.status() == Some(StatusCode::NOT_FOUND) {
                    // Collected between the listing and the fetch.
                    return ApiError::new(
                        StatusCode::GONE,
                        "version_expired",
                        format!(
                            "dataset '{}' at catalog version {} was dropped by retention",
                            m.name, then.version
                        ),
                    );
                }
                ApiError::bad_gateway(format!("fetching a dataset object: {e}"))
                    .with_code("storage_unavailable")
            })?);
            temp_views.push(TempView::Files {
                name: m.name.clone(),
                files: objects.iter().map(|(k, _)| self.cache.path_of(k)).collect(),
                schema: m.schema.clone(),
            });
        }
        for m in now.iter().filter(|m| {
            identifiers.contains(&m.name.to_ascii_lowercase())
                && !then
                    .manifests
                    .iter()
                    .any(|t| t.name.eq_ignore_ascii_case(&m.name))
        }) {
            temp_views.push(TempView::Missing {
                name: m.name.clone(),
                message: format!(
                    "dataset '{}' did not exist at catalog version {}",
                    m.name, then.version
                ),
            });
        }
        Ok(Prepared {
            pins,
            temp_views,
            version: then.version,
            hold: None,
        })
    }

    /// Names of every dataset at `as_of` (for scope checks).
    pub async fn names_at(&self, as_of: &AsOf, rid: &str) -> Result<Vec<String>, ApiError> {
        let then = self.list_at(as_of, rid).await?;
        Ok(then
            .manifests
            .iter()
            .map(|m| m.name.clone())
            .chain(then.expired.iter().cloned())
            .collect())
    }

    /// Every dataset as the catalog has it now.
    pub async fn tables(&self, rid: &str) -> Result<Vec<Manifest>, ApiError> {
        let mut st = self.state.lock().await;
        let _changing = self.in_use.write().await;
        self.sync(&mut st, rid).await?;
        let mut all: Vec<Manifest> = st.manifests.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }
}
