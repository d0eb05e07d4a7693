//! Datasets as Iceberg tables in storage: after every commit the catalog writes what the new
//! snapshot's Iceberg files need (see [`crate::iceberg`]), and loading a table writes anything
//! still missing (a commit whose writes failed, a history retention changed, a restore to
//! another root) before answering. The files are derived from the catalog, so a failure to
//! write them never fails a commit: it is logged and repaired on the next load.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::CatalogError;
use crate::catalog::Catalog;
use crate::iceberg::{self, metadata_prefix, version_hint_key};
use crate::store::{self, ObjectStore};

/// A dataset's table as a reader loads it.
#[derive(Debug, Clone)]
pub struct IcebergTable {
    /// Absolute location of the metadata file.
    pub metadata_location: String,
    /// The table metadata (the same JSON as that file).
    pub metadata: Value,
}

/// What this process knows to be in storage for one dataset.
#[derive(Debug, Default)]
pub(crate) struct Written {
    listed: bool,
    /// Keys in storage, with their sizes.
    keys: HashMap<String, u64>,
    /// Hashes of the metadata and hint files as written (or read back).
    contents: HashMap<String, [u8; 32]>,
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl<S: ObjectStore> Catalog<S> {
    /// Marks `dataset`'s table for writing after a commit that changed it, if Iceberg is on.
    /// The writing is [`Catalog::run_publisher`]'s, off the commit's path: commits do not
    /// wait for it, and many commits of one dataset cost one write of its newest state.
    pub(crate) fn publish_if(&self, dataset: &str, changed: bool) {
        if !changed || self.settings.iceberg_root.is_none() {
            return;
        }
        self.unpublished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(dataset.to_owned());
        self.publish.notify_one();
    }

    /// Writes the tables of committed changes as they come. Runs until dropped.
    pub async fn run_publisher(&self) {
        loop {
            self.publish.notified().await;
            self.publish_pending().await;
        }
    }

    /// Writes every table marked since the last call; a failure is logged, not returned (the
    /// commit stands, and loading the table writes what is missing).
    pub async fn publish_pending(&self) {
        let names = std::mem::take(
            &mut *self
                .unpublished
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for dataset in names {
            self.publish_now(&dataset).await;
        }
    }

    async fn publish_now(&self, dataset: &str) {
        if let Err(e) = self.write_table(dataset).await {
            tracing::warn!(dataset, error = %e, "Iceberg metadata not written; the next table load writes it");
        }
    }

    /// Datasets whose stored Iceberg files may name files retention has since replaced (or
    /// that this process has not written yet): a collection leaves their metadata alone and
    /// has the publisher write them, so the next collection can tidy them.
    pub(crate) fn stale_tables(&self) -> HashSet<String> {
        if self.settings.iceberg_root.is_none() {
            return HashSet::new();
        }
        let fresh = self
            .fresh_tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stale: HashSet<String> = self
            .read()
            .lineages
            .values()
            .filter(|l| l.current().is_some() && fresh.get(&l.name) != Some(&l.expiries))
            .map(|l| l.name.clone())
            .collect();
        for name in &stale {
            self.publish_if(name, true);
        }
        stale
    }

    /// The dataset's Iceberg table now, its files written first. Not found when the dataset
    /// does not exist now.
    pub async fn iceberg_table(&self, dataset: &str) -> Result<IcebergTable, CatalogError> {
        self.ensure_loaded()?;
        let root = self.iceberg_root()?.to_owned();
        let t = self
            .write_table(dataset)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("no table named '{dataset}'")))?;
        Ok(IcebergTable {
            metadata_location: format!("{root}/{}", t.metadata_key),
            metadata: t.metadata,
        })
    }

    /// The storage root Iceberg locations start with.
    pub fn iceberg_root(&self) -> Result<&str, CatalogError> {
        self.settings.iceberg_root.as_deref().ok_or_else(|| {
            CatalogError::conflict(
                "iceberg_disabled",
                "Iceberg tables are not enabled on this catalog (no storage location is configured)",
            )
        })
    }

    async fn write_table(&self, dataset: &str) -> Result<Option<iceberg::Table>, CatalogError> {
        let root = self.iceberg_root()?.to_owned();
        if self
            .read()
            .lineages
            .get(dataset)
            .is_none_or(|l| l.current().is_none())
        {
            return Ok(None);
        }
        let mut written = self.tables.lock().await;
        let w = written.entry(dataset.to_owned()).or_default();
        if !w.listed {
            let listed = store::list_all(&self.store, &metadata_prefix(dataset))
                .await
                .map_err(|e| CatalogError::Storage(e.0))?;
            w.keys.extend(listed.into_iter().map(|l| (l.key, l.size)));
            w.listed = true;
        }
        let (table, names, expiries) = {
            let st = self.read();
            let Some(l) = st.lineages.get(dataset) else {
                return Ok(None);
            };
            let first = l.first_version().unwrap_or(0);
            let t = iceberg::table(dataset, &root, first, &l.snaps, &w.keys)
                .map_err(CatalogError::Internal)?;
            (t, iceberg::keys(dataset, &root, &l.snaps), l.expiries)
        };
        // A collection running now must not delete what this table names, whatever state
        // the collection decided from.
        {
            let mut gc = self.gc.lock().unwrap_or_else(PoisonError::into_inner);
            if gc.active {
                gc.referenced_since.extend(names);
            }
        }
        let Some(table) = table else {
            return Ok(None);
        };
        for f in &table.files {
            self.put_table_file(w, &f.key, f.bytes.clone(), false)
                .await?;
        }
        let metadata = serde_json::to_vec(&table.metadata)
            .map_err(|e| CatalogError::Internal(e.to_string()))?;
        self.put_table_file(w, &table.metadata_key, metadata, true)
            .await?;
        let hint = table.head.to_string().into_bytes();
        self.put_table_file(w, &version_hint_key(dataset), hint, true)
            .await?;
        // Stored metadata now names only this history's files.
        self.fresh_tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(dataset.to_owned(), expiries);
        Ok(Some(table))
    }

    /// Writes `key` unless it is known to hold `bytes` already; a file that may be rewritten
    /// (`mutable`) is read back once per process to know.
    async fn put_table_file(
        &self,
        w: &mut Written,
        key: &str,
        bytes: Vec<u8>,
        mutable: bool,
    ) -> Result<(), CatalogError> {
        let h = hash(&bytes);
        let len = bytes.len() as u64;
        if mutable {
            if w.contents.get(key) == Some(&h) {
                return Ok(());
            }
            if w.keys.contains_key(key) && !w.contents.contains_key(key) {
                let stored = self
                    .store
                    .get(key)
                    .await
                    .map_err(|e| CatalogError::Storage(e.0))?;
                if stored.as_deref().map(hash) == Some(h) {
                    w.contents.insert(key.to_owned(), h);
                    return Ok(());
                }
            }
        }
        self.store
            .put(key, bytes)
            .await
            .map_err(|e| CatalogError::Storage(e.0))?;
        w.keys.insert(key.to_owned(), len);
        if mutable {
            w.contents.insert(key.to_owned(), h);
        }
        Ok(())
    }

    /// Every key the retained tables need (garbage collection keeps them).
    pub(crate) fn table_keys(&self, into: &mut HashSet<String>) {
        let Some(root) = self.settings.iceberg_root.as_deref() else {
            return;
        };
        for l in self.read().lineages.values() {
            into.extend(iceberg::keys(&l.name, root, &l.snaps));
        }
    }
}
