//! Retention and garbage collection.
//!
//! Order is what makes a crash harmless: snapshots past retention are dropped by writing a
//! checkpoint without them *before* any object is deleted, so no state a load can reach
//! references a deleted object; an object is deleted only when no retained snapshot of any
//! dataset references it, no commit since the collection began named it, and it is older
//! than the grace period (an upload whose commit may still come).

use std::collections::HashSet;
use std::sync::PoisonError;
use std::time::Instant;

use futures::StreamExt;

use lakehouse_types::{GcReport, is_internal};

use crate::CatalogError;
use crate::catalog::Catalog;
use crate::index_lineage::stem;
use crate::record::Objects;
use crate::store::{self, LOG_PREFIX, ObjectStore, version_of};
use crate::time::now_ms;

/// Deletes a collection keeps in flight at once.
const DELETES_IN_FLIGHT: usize = 16;

/// Checkpoints kept: the newest, and one before it should the newest be unreadable.
const CHECKPOINTS_KEPT: usize = 2;

/// Where a collection looks for objects, and which of them are dataset data.
#[derive(Debug)]
struct Sweep {
    prefix: String,
    /// Under a batch job's `<name>/` prefix only Parquet objects are dataset data.
    parquet_only: bool,
    /// Under `_vectors/` only committed index states (`<name>.commits/…`) are the
    /// catalog's to collect; the rest is vectord's own.
    index_states: bool,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<S: ObjectStore> Catalog<S> {
    /// Expires snapshots past retention, then deletes the objects nothing references.
    pub async fn gc(&self) -> Result<GcReport, CatalogError> {
        self.ensure_loaded()?;
        let _one = self.gc_run.lock().await;
        let started = Instant::now();
        let mut report = GcReport::default();
        let now = now_ms();
        let (referenced, sweeps) = {
            let _commit = self.commit.lock().await;
            self.ensure_loaded()?;
            // A leader whose lease ran out must not delete what the next one references.
            self.commit_epoch()?;
            let mut next = self.read().clone();
            let cutoff = now.saturating_sub(ms(self.settings.keep_for));
            let mut expired = 0;
            for l in next.lineages.values_mut() {
                expired += l
                    .expire(self.settings.keep_versions, cutoff)
                    .map_err(CatalogError::Internal)?;
            }
            for l in next.indexes.values_mut() {
                expired += l.expire(self.settings.keep_versions, cutoff);
            }
            let oldest = next
                .lineages
                .values()
                .filter_map(|l| l.snaps.first().map(|s| s.rec.version))
                .chain(
                    next.indexes
                        .values()
                        .filter_map(|l| l.commits.first().map(|(c, _)| c.version)),
                )
                .min()
                .unwrap_or(next.version + 1);
            let before = next.log.len();
            while next.log.front().is_some_and(|c| c.version < oldest)
                || next.log.len() > self.settings.max_log_entries.max(1)
            {
                if let Some(c) = next.log.pop_front() {
                    next.log_floor = next.log_floor.max(c.version);
                }
            }
            if expired > 0 || next.log.len() != before {
                // Durable before anything is deleted.
                let rec = next.to_checkpoint();
                let bytes =
                    serde_json::to_vec(&rec).map_err(|e| CatalogError::Internal(e.to_string()))?;
                self.store
                    .put(&store::checkpoint_key(next.version), bytes)
                    .await
                    .map_err(|e| CatalogError::Storage(e.0))?;
                next.since_checkpoint = 0;
                self.replace_state(next);
            }
            report.snapshots_expired = expired as u64;
            let st = self.read();
            report.version = st.version;
            let mut referenced = HashSet::new();
            for l in st.indexes.values() {
                l.referenced(&mut referenced);
            }
            let mut sweeps = vec![
                Sweep {
                    prefix: "datasets/".into(),
                    parquet_only: false,
                    index_states: false,
                },
                Sweep {
                    prefix: "_vectors/".into(),
                    parquet_only: false,
                    index_states: true,
                },
            ];
            for l in st.lineages.values() {
                l.referenced(&mut referenced);
                let own = format!("{}/", l.name);
                let job_written = l.name != "datasets"
                    && l.snaps.iter().any(|s| {
                        s.rec.body.as_ref().is_some_and(|b| match &b.objects {
                            Objects::Full(o) | Objects::Added(o) => {
                                o.iter().any(|o| o.key.starts_with(&own))
                            }
                        })
                    });
                if job_written {
                    sweeps.push(Sweep {
                        prefix: own,
                        parquet_only: true,
                        index_states: false,
                    });
                }
            }
            drop(st);
            self.table_keys(&mut referenced);
            let mut gc = self.gc.lock().unwrap_or_else(PoisonError::into_inner);
            gc.active = true;
            gc.referenced_since.clear();
            (referenced, sweeps)
        };
        let stale = self.stale_tables();
        let swept = self
            .sweep(&sweeps, &referenced, &stale, now, &mut report)
            .await;
        {
            let mut gc = self.gc.lock().unwrap_or_else(PoisonError::into_inner);
            gc.active = false;
            gc.referenced_since.clear();
            let grace = ms(self.settings.gc_grace);
            gc.collected.retain(|_, t| now_ms() - *t < grace);
        }
        swept?;
        report.log_objects_deleted = self.trim_log().await?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            expired = report.snapshots_expired,
            examined = report.objects_examined,
            deleted = report.objects_deleted,
            bytes = report.bytes_deleted,
            in_grace = report.objects_in_grace,
            "garbage collected"
        );
        Ok(report)
    }

    /// Lists each prefix a page at a time (memory does not grow with the store) and deletes
    /// what nothing references.
    async fn sweep(
        &self,
        sweeps: &[Sweep],
        referenced: &HashSet<String>,
        stale_tables: &HashSet<String>,
        started_ms: i64,
        report: &mut GcReport,
    ) -> Result<(), CatalogError> {
        let young = started_ms.saturating_sub(ms(self.settings.gc_grace));
        for s in sweeps {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .store
                    .list(&s.prefix, after.as_deref())
                    .await
                    .map_err(|e| CatalogError::Storage(e.0))?;
                let mut candidates = Vec::new();
                for o in &page.objects {
                    report.objects_examined += 1;
                    let keep = if s.index_states {
                        !o.key.contains(".commits/") || referenced.contains(stem(&o.key))
                    } else {
                        is_internal(&o.key)
                            || (s.parquet_only && !o.key.ends_with(".parquet"))
                            || referenced.contains(&o.key)
                            || crate::iceberg::table_of(&o.key)
                                .is_some_and(|d| stale_tables.contains(d))
                    };
                    if keep {
                        continue;
                    }
                    if o.modified_ms.is_none_or(|m| m > young) {
                        report.objects_in_grace += 1;
                        continue;
                    }
                    candidates.push(o);
                }
                if !candidates.is_empty() {
                    // Decided under the commit lock: a commit naming one of these either
                    // came first (and is in `referenced_since`) or will be refused.
                    let _commit = self.commit.lock().await;
                    let mut gc = self.gc.lock().unwrap_or_else(PoisonError::into_inner);
                    let now = now_ms();
                    candidates.retain(|o| {
                        !gc.referenced_since.contains(&o.key)
                            && !gc.referenced_since.contains(stem(&o.key))
                    });
                    for o in &candidates {
                        gc.collected.insert(o.key.clone(), now);
                    }
                }
                // Several deletes in flight: a store answers each in a round trip.
                let owned: Vec<(String, u64)> =
                    candidates.iter().map(|o| (o.key.clone(), o.size)).collect();
                let store = &self.store;
                let mut deletes = futures::stream::iter(owned)
                    .map(|(key, size)| async move {
                        let done = store.delete(&key).await;
                        (key, size, done)
                    })
                    .buffer_unordered(DELETES_IN_FLIGHT);
                while let Some((key, size, done)) = deletes.next().await {
                    match done {
                        Ok(()) => {
                            report.objects_deleted += 1;
                            report.bytes_deleted += size;
                        }
                        Err(e) => {
                            tracing::warn!(key = %key, error = %e, "could not delete an unreferenced object; the next collection tries again");
                        }
                    }
                }
                match page.next_after {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Removes checkpoints but the newest few, and the commits those make unnecessary.
    async fn trim_log(&self) -> Result<u64, CatalogError> {
        let storage = |e: store::StoreError| CatalogError::Storage(e.0);
        let checkpoints = store::checkpoint_versions(&self.store)
            .await
            .map_err(storage)?;
        if checkpoints.len() < CHECKPOINTS_KEPT {
            return Ok(0);
        }
        let keep_from = checkpoints[checkpoints.len() - CHECKPOINTS_KEPT];
        let mut deleted = 0;
        for v in checkpoints.iter().filter(|v| **v < keep_from) {
            self.store
                .delete(&store::checkpoint_key(*v))
                .await
                .map_err(storage)?;
            deleted += 1;
        }
        // Commits up to the oldest kept checkpoint are in it.
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self
                .store
                .list(LOG_PREFIX, after.as_deref())
                .await
                .map_err(storage)?;
            for o in &page.objects {
                match version_of(&o.key, LOG_PREFIX) {
                    Some(v) if v <= keep_from => {
                        self.store.delete(&o.key).await.map_err(storage)?;
                        deleted += 1;
                    }
                    Some(_) => break 'pages,
                    None => {}
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(deleted)
    }
}
