//! The catalog: its state in memory, loaded from and written through to object storage.
//!
//! Every change is a commit with the next catalog version, made durable by writing one log
//! object before the state in memory changes or anyone is answered. Commits are serialized
//! by one lock (version order is commit order); readers copy what they need under a
//! read lock and never wait for storage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use lakehouse_types::{AsOf, CommitLog, History, Manifest};

use crate::lineage::At;
use crate::record::{CheckpointRecord, CommitRecord};
use crate::state::State;
use crate::store::{self, LOG_PREFIX, ObjectStore, checkpoint_key, version_of};
use crate::{CatalogError, legacy};

/// Retention, collection and checkpoint settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Snapshots kept per dataset whatever their age.
    pub keep_versions: usize,
    /// Snapshots younger than this are kept whatever their number.
    pub keep_for: Duration,
    /// Unreferenced objects younger than this are left alone (an upload whose commit may
    /// still come).
    pub gc_grace: Duration,
    /// A checkpoint of the whole state is written every this many commits.
    pub checkpoint_every: u64,
    /// Commits the log keeps listing at most; older ones are still readable by time through
    /// the snapshots they made.
    pub max_log_entries: usize,
    /// Where Iceberg locations start (`file:///srv/objects`, `s3://bucket`): every dataset is
    /// also an Iceberg table; `None` writes no Iceberg metadata.
    pub iceberg_root: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            keep_versions: 10,
            keep_for: Duration::from_secs(7 * 86_400),
            gc_grace: Duration::from_secs(3_600),
            checkpoint_every: 100,
            max_log_entries: 100_000,
            iceberg_root: None,
        }
    }
}

/// Objects a running collection is deleting, and what commits referenced meanwhile.
#[derive(Debug, Default)]
pub(crate) struct GcTrack {
    pub(crate) active: bool,
    pub(crate) referenced_since: std::collections::HashSet<String>,
    /// Keys collected, with when: a commit naming one within the grace period is refused.
    pub(crate) collected: HashMap<String, i64>,
}

/// The catalog over store `S`.
#[derive(Debug)]
pub struct Catalog<S> {
    pub(crate) store: S,
    pub(crate) settings: Settings,
    state: RwLock<State>,
    /// Held from choosing a commit's version until it is applied; also by checkpoints and
    /// by the collector while it decides what to delete.
    pub(crate) commit: tokio::sync::Mutex<()>,
    pub(crate) gc_run: tokio::sync::Mutex<()>,
    pub(crate) gc: Mutex<GcTrack>,
    pub(crate) loaded: AtomicBool,
    load_error: Mutex<Option<String>>,
    skipped: Mutex<Vec<String>>,
    pub(crate) reload: tokio::sync::Notify,
    /// The lease, when instances share the catalog (see `lease`).
    pub(crate) held: Mutex<crate::lease::Held>,
    pub(crate) role_changed: tokio::sync::Notify,
    /// Iceberg files known written, per dataset; held while writing them.
    pub(crate) tables: tokio::sync::Mutex<HashMap<String, crate::tables::Written>>,
    /// Datasets whose tables a commit changed and the publisher has not written yet.
    pub(crate) unpublished: Mutex<std::collections::BTreeSet<String>>,
    pub(crate) publish: tokio::sync::Notify,
    /// Per dataset, the retention count its stored Iceberg files were written for: a
    /// collection deletes a table's old files only once they are no longer named.
    pub(crate) fresh_tables: Mutex<HashMap<String, u64>>,
}

impl<S: ObjectStore> Catalog<S> {
    /// An empty catalog over `store`; [`Catalog::run_loader`] loads it.
    pub fn new(store: S, settings: Settings) -> Self {
        Self {
            store,
            settings,
            state: RwLock::default(),
            commit: tokio::sync::Mutex::new(()),
            gc_run: tokio::sync::Mutex::new(()),
            gc: Mutex::default(),
            loaded: AtomicBool::new(false),
            load_error: Mutex::new(None),
            skipped: Mutex::default(),
            reload: tokio::sync::Notify::new(),
            held: Mutex::default(),
            role_changed: tokio::sync::Notify::new(),
            tables: tokio::sync::Mutex::default(),
            unpublished: Mutex::default(),
            publish: tokio::sync::Notify::new(),
            fresh_tables: Mutex::default(),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the catalog, retrying with backoff until storage answers; loads it again
    /// whenever a write's outcome could not be known. Runs until dropped.
    pub async fn run_loader(&self) {
        loop {
            self.load().await;
            self.reload.notified().await;
        }
    }

    /// Loads once, retrying until storage answers.
    pub async fn load(&self) {
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = self.try_load().await {
            tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot load the catalog");
            self.set_load_error(e.to_string());
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One attempt to load the catalog from storage.
    pub async fn try_load(&self) -> Result<(), CatalogError> {
        let _commit = self.commit.lock().await;
        let (state, skipped) = self.load_once().await?;
        for s in &skipped {
            tracing::warn!(problem = %s, "catalog record skipped");
        }
        let (version, datasets) = (state.version, state.lineages.len());
        *self.write() = state;
        *self.skipped.lock().unwrap_or_else(PoisonError::into_inner) = skipped;
        *self
            .load_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.loaded.store(true, Ordering::SeqCst);
        tracing::info!(version, datasets, "catalog loaded");
        Ok(())
    }

    /// The newest readable checkpoint, then every commit after it; on a store with neither,
    /// the layout from before versions, imported as commit 1.
    async fn load_once(&self) -> Result<(State, Vec<String>), CatalogError> {
        let storage = |e: store::StoreError| CatalogError::Storage(e.0);
        let mut skipped = Vec::new();
        let mut checkpoints = store::checkpoint_versions(&self.store)
            .await
            .map_err(storage)?;
        let mut state = None;
        while let Some(v) = checkpoints.pop() {
            let key = checkpoint_key(v);
            let Some(bytes) = self.store.get(&key).await.map_err(storage)? else {
                continue;
            };
            match serde_json::from_slice::<CheckpointRecord>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(State::from_checkpoint)
            {
                Ok(s) => {
                    state = Some(s);
                    break;
                }
                Err(e) => skipped.push(format!("{key}: {e}; reading an older checkpoint")),
            }
        }
        let from_checkpoint = state.is_some();
        let mut state = state.unwrap_or_default();
        let mut after = (state.version > 0).then(|| store::log_key(state.version));
        let mut commits = 0u64;
        let mut newest = 0;
        loop {
            let page = self
                .store
                .list(LOG_PREFIX, after.as_deref())
                .await
                .map_err(storage)?;
            for o in &page.objects {
                let Some(v) = version_of(&o.key, LOG_PREFIX) else {
                    skipped.push(format!("{}: not a commit's key", o.key));
                    continue;
                };
                if v <= state.version {
                    continue;
                }
                // Even a commit that cannot be read holds its version: never write over it.
                newest = newest.max(v);
                let Some(bytes) = self.store.get(&o.key).await.map_err(storage)? else {
                    continue;
                };
                match serde_json::from_slice::<CommitRecord>(&bytes) {
                    Ok(c) if c.version == v => {
                        skipped.extend(state.apply(&c));
                        commits += 1;
                    }
                    Ok(c) => skipped.push(format!("{}: holds commit {}", o.key, c.version)),
                    Err(e) => skipped.push(format!("{}: corrupt commit: {e}", o.key)),
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        state.version = state.version.max(newest);
        if !from_checkpoint && commits == 0 && newest == 0 {
            let (imported, problems) = legacy::import(&self.store).await?;
            skipped.extend(problems);
            if let Some(commit) = imported {
                self.put_commit(&commit).await?;
                skipped.extend(state.apply(&commit));
                tracing::info!(
                    datasets = commit.changes.len(),
                    "imported the catalog from before versions"
                );
            }
        }
        Ok((state, skipped))
    }

    pub(crate) fn set_load_error(&self, e: String) {
        *self
            .load_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(e);
    }

    /// Asks the loader to load again: storage may hold a commit memory does not.
    pub(crate) fn request_reload(&self, why: &str) {
        tracing::error!(reason = %why, "the catalog is reloading from storage");
        *self
            .load_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(why.to_owned());
        self.loaded.store(false, Ordering::SeqCst);
        self.reload.notify_one();
    }

    /// Why the catalog cannot answer yet, if it cannot.
    pub fn not_ready(&self) -> Option<String> {
        if self.loaded.load(Ordering::SeqCst) {
            return None;
        }
        let last = self
            .load_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Some(match last {
            Some(e) => format!("loading the catalog from storage (last attempt: {e})"),
            None => "loading the catalog from storage".into(),
        })
    }

    /// Records skipped at load, with the reason.
    pub fn skipped(&self) -> Vec<String> {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn ensure_loaded(&self) -> Result<(), CatalogError> {
        // A leader whose lease ran out (renewals failing) serves nothing from memory either:
        // the new leader may have moved on.
        self.commit_epoch()?;
        match self.not_ready() {
            None => Ok(()),
            Some(why) => Err(CatalogError::NotReady(why)),
        }
    }

    /// The current catalog version.
    pub fn version(&self) -> u64 {
        self.read().version
    }

    /// The catalog version `as_of` names.
    pub fn resolve(&self, as_of: &AsOf) -> Result<u64, CatalogError> {
        self.ensure_loaded()?;
        self.read().resolve(as_of)
    }

    /// A dataset now.
    pub fn get(&self, name: &str) -> Result<Manifest, CatalogError> {
        self.ensure_loaded()?;
        self.read()
            .lineages
            .get(name)
            .and_then(|l| l.current().cloned())
            .ok_or_else(|| CatalogError::NotFound(format!("no dataset named '{name}'")))
    }

    /// A dataset as it was at `as_of`.
    pub fn get_at(&self, name: &str, as_of: &AsOf) -> Result<Manifest, CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let v = st.resolve(as_of)?;
        let at = match st.lineages.get(name) {
            Some(l) => l.at(v).map_err(CatalogError::Internal)?,
            None => At::Absent,
        };
        match at {
            At::Exists(m) => Ok(*m),
            At::Absent => Err(CatalogError::NotFound(format!(
                "no dataset named '{name}' at catalog version {v}"
            ))),
            At::Expired => Err(CatalogError::Expired(format!(
                "dataset '{name}' at catalog version {v} was dropped by retention"
            ))),
        }
    }

    /// Every dataset now, and the version.
    pub fn list(&self) -> Result<(Vec<Manifest>, u64), CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let all = st
            .lineages
            .values()
            .filter_map(|l| l.current().cloned())
            .collect();
        Ok((all, st.version))
    }

    /// Every dataset at `as_of`, the version that names, and the datasets whose state then
    /// was expired.
    pub fn list_at(&self, as_of: &AsOf) -> Result<(Vec<Manifest>, u64, Vec<String>), CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let v = st.resolve(as_of)?;
        let (all, expired) = st.list_at(v)?;
        Ok((all, v, expired))
    }

    /// Every dataset name with retained history, current or deleted.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        self.ensure_loaded()?;
        Ok(self
            .read()
            .lineages
            .values()
            .filter(|l| !l.snaps.is_empty())
            .map(|l| l.name.clone())
            .collect())
    }

    /// A dataset's retained snapshots, newest first.
    pub fn history(&self, name: &str) -> Result<History, CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let l = st
            .lineages
            .get(name)
            .filter(|l| !l.snaps.is_empty() || l.expired_through.is_some())
            .ok_or_else(|| {
                CatalogError::NotFound(format!("no dataset named '{name}' has history"))
            })?;
        Ok(History {
            name: name.to_owned(),
            snapshots: l.history(),
            expired_through: l.expired_through,
        })
    }

    /// Up to `limit` commits after version `after`, oldest first.
    pub fn log(&self, after: u64, limit: usize) -> Result<CommitLog, CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let start = st.log.partition_point(|c| c.version <= after);
        let commits: Vec<_> = st.log.iter().skip(start).take(limit).cloned().collect();
        let more = start + commits.len() < st.log.len();
        Ok(CommitLog {
            next_after: more.then(|| commits.last().map_or(after, |c| c.version)),
            commits,
            version: st.version,
        })
    }

    /// Writes the whole state as a checkpoint (the caller holds the commit lock).
    pub(crate) async fn checkpoint(&self) -> Result<(), CatalogError> {
        let (key, bytes) = {
            let st = self.read();
            let rec = st.to_checkpoint();
            (
                checkpoint_key(st.version),
                serde_json::to_vec(&rec).map_err(|e| CatalogError::Internal(e.to_string()))?,
            )
        };
        self.store
            .put(&key, bytes)
            .await
            .map_err(|e| CatalogError::Storage(e.0))?;
        self.write().since_checkpoint = 0;
        Ok(())
    }

    /// Replaces the state (the caller holds the commit lock).
    pub(crate) fn replace_state(&self, s: State) {
        *self.write() = s;
    }
}
