//! The named indexes and their life in storage.
//!
//! A write is logged before it is applied: its record is stored (one PUT) and only then does
//! the index change and the client get its answer, so nothing acknowledged is lost to a
//! `kill -9`. Writes to one index are logged and applied one group at a time, in log order:
//! writes that arrive while a record is being stored queue up and share the next record
//! (group commit), so many small writers pay one PUT, not one each. Snapshots are saved in the
//! background by one saver per index: a write wakes it, it waits `save_delay` so a burst costs
//! one save, and a write during a save leaves one wake-up behind — single flight plus one
//! catch-up. Once a snapshot is stored, the log records it covers are deleted. At start every
//! snapshot is decoded (never rebuilt) and the records past its position are replayed.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use lakehouse_client::ClientError;
use lakehouse_common::ApiError;
use lakehouse_common::metrics::Histogram;
use lakehouse_vector::{Index, Item, Params};
use tokio::sync::{Notify, oneshot};

use crate::search_cache::SearchCache;
use crate::store::{Store, index_name_error};
use crate::wal::{self, Record, Write};

const LIVE: u8 = 0;
const DROPPING: u8 = 1;
const GONE: u8 = 2;

/// One named index.
#[derive(Debug)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// This instance's number, unique in the process: a name deleted and created again is
    /// another index, and the repeat cache must not confuse the two.
    pub instance: u64,
    /// Its contents.
    pub index: Arc<Index>,
    /// Held by the group of writes being logged and applied; holds the next sequence number.
    writer: tokio::sync::Mutex<u64>,
    /// Writes waiting for the next group.
    queue: Mutex<Vec<Pending>>,
    state: AtomicU8,
    dirty: Notify,
    /// Held by the save in progress.
    saving: tokio::sync::Mutex<()>,
    saved_generation: AtomicU64,
    /// Log records not yet covered by a stored snapshot: first write's number → last's.
    logged: Mutex<BTreeMap<u64, u64>>,
    /// Search latency.
    pub searches: Histogram,
    /// How long the last save took, in milliseconds.
    last_save_ms: AtomicU64,
    /// The stored key and write sequence of the last commit this instance made of it, so a
    /// search as of that commit can read the live index while it holds no later write.
    pub committed: Mutex<Option<(String, u64)>>,
}

impl Entry {
    fn new(name: String, index: Index, next_seq: u64) -> Arc<Self> {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let generation = index.generation();
        Arc::new(Self {
            name,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            index: Arc::new(index),
            writer: tokio::sync::Mutex::new(next_seq),
            queue: Mutex::default(),
            state: AtomicU8::new(LIVE),
            dirty: Notify::new(),
            saving: tokio::sync::Mutex::new(()),
            saved_generation: AtomicU64::new(generation),
            logged: Mutex::default(),
            searches: Histogram::default(),
            last_save_ms: AtomicU64::new(0),
            committed: Mutex::default(),
        })
    }

    fn live(&self) -> Result<(), ApiError> {
        if self.state.load(Ordering::Acquire) == LIVE {
            Ok(())
        } else {
            Err(not_found(&self.name))
        }
    }

    /// Log records a restart would replay now.
    pub fn pending_log_records(&self) -> usize {
        lock(&self.logged).len()
    }
}

/// A write waiting for its group, and where its answer goes: `(changed, length)`.
#[derive(Debug)]
struct Pending {
    change: Record,
    reply: oneshot::Sender<Result<(usize, usize), ApiError>>,
}

/// A group's record stays under this size, about; a write larger than it goes alone.
const GROUP_BYTES: usize = 32 << 20;

/// Service-wide figures for `/metrics`.
#[derive(Debug, Default)]
pub struct Figures {
    /// Snapshot save durations.
    pub saves: Histogram,
    /// Failed snapshot saves.
    pub save_failures: AtomicU64,
    /// Bytes of the last snapshot stored, by index.
    pub snapshot_bytes: Mutex<BTreeMap<String, u64>>,
    /// Log-record PUT durations (the storage part of a write's latency).
    pub log_writes: Histogram,
}

/// Every index, loaded from storage at start.
#[derive(Debug)]
pub struct Registry {
    store: Store,
    save_delay: Duration,
    log_timeout: Duration,
    indexes: RwLock<BTreeMap<String, Arc<Entry>>>,
    /// Creates and deletes run one at a time.
    ops: tokio::sync::Mutex<()>,
    loaded: AtomicBool,
    load_error: Mutex<Option<String>>,
    problems: Mutex<Vec<String>>,
    /// Figures for `/metrics`.
    pub figures: Figures,
    history: std::sync::OnceLock<crate::history::History>,
    /// `(this shard, of how many)`: the indexes this instance owns; unset owns all.
    shard: std::sync::OnceLock<(usize, usize)>,
    /// Answers to repeated searches.
    pub search_cache: SearchCache,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("no index named '{name}'"))
}

fn storage_error(doing: &str, e: &ClientError) -> ApiError {
    ApiError::unavailable(format!("{doing}: storage failed: {e}")).with_code("storage_unavailable")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// Runs CPU-heavy index work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

/// What a merge did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MergeOutcome {
    /// Items added to the destination.
    pub merged: usize,
    /// Items whose id the destination already held.
    pub skipped_already_present: usize,
    /// Items the destination refused.
    pub failed: usize,
    /// Live items in the destination afterwards.
    pub length_dest: usize,
    /// Live items in the source afterwards.
    pub length_source: usize,
    /// The first refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// An index's state for a commit.
#[derive(Debug)]
pub struct CommitState {
    /// The write sequence it holds.
    pub sequence: u64,
    /// Its encoding.
    pub bytes: Vec<u8>,
    /// Live items.
    pub items: usize,
    /// Dimension.
    pub dimension: usize,
}

impl Registry {
    /// An empty, not yet loaded registry (call [`Registry::load`]).
    pub fn new(
        store: Store,
        save_delay: Duration,
        log_timeout: Duration,
        search_cache_entries: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            save_delay,
            log_timeout,
            indexes: RwLock::default(),
            ops: tokio::sync::Mutex::new(()),
            loaded: AtomicBool::new(false),
            load_error: Mutex::new(None),
            problems: Mutex::default(),
            figures: Figures::default(),
            history: std::sync::OnceLock::new(),
            shard: std::sync::OnceLock::new(),
            search_cache: SearchCache::new(search_cache_entries),
        })
    }

    /// Why the registry cannot serve yet.
    pub fn not_ready(&self) -> Option<String> {
        if self.loaded.load(Ordering::Acquire) {
            return None;
        }
        Some(match lock(&self.load_error).clone() {
            Some(e) => format!("loading indexes from storage (last attempt: {e})"),
            None => "loading indexes from storage".into(),
        })
    }

    /// Snapshots skipped and log records not replayed at load, one line each.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.problems).clone()
    }

    fn ensure_loaded(&self) -> Result<(), ApiError> {
        match self.not_ready() {
            None => Ok(()),
            Some(why) => Err(ApiError::unavailable(why).with_code("not_ready")),
        }
    }

    /// Every index, by name.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.indexes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Owns only the indexes shard `shard` of `of` owns (see `lakehouse_types::shard`).
    pub fn set_shard(&self, shard: usize, of: usize) {
        let _ = self.shard.set((shard, of));
    }

    /// Whether this instance owns index `name`.
    pub fn owns(&self, name: &str) -> bool {
        self.shard
            .get()
            .is_none_or(|&(me, of)| lakehouse_types::shard::owner_of(name, of) == me)
    }

    /// Refuses an index another instance owns: loading or writing it here would replay and
    /// delete that instance's write log.
    fn ensure_owned(&self, name: &str) -> Result<(), ApiError> {
        match self.shard.get() {
            Some(&(me, of)) if !self.owns(name) => Err(ApiError::new(
                axum::http::StatusCode::MISDIRECTED_REQUEST,
                "wrong_shard",
                format!(
                    "index '{name}' belongs to vectord shard {} of {of}; this is shard {me} \
                     (send it through the gateway, which routes by index name)",
                    lakehouse_types::shard::owner_of(name, of)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// One index, for reading.
    pub fn get(&self, name: &str) -> Result<Arc<Entry>, ApiError> {
        self.ensure_loaded()?;
        self.ensure_owned(name)?;
        self.indexes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    fn insert(self: &Arc<Self>, entry: Arc<Entry>) {
        self.indexes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.name.clone(), entry.clone());
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                entry.dirty.notified().await;
                if entry.state.load(Ordering::Acquire) == GONE {
                    return;
                }
                // A large index under steady writes is saved at most a fifth of the time: its
                // log keeps every write durable meanwhile.
                let busy = Duration::from_millis(4 * entry.last_save_ms.load(Ordering::Relaxed));
                let delay = me.upgrade().map_or(Duration::ZERO, |r| r.save_delay);
                tokio::time::sleep(delay.max(busy)).await;
                let Some(reg) = me.upgrade() else { return };
                if let Err(e) = reg.save(&entry).await {
                    reg.figures.save_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(index = %entry.name, error = %e, "snapshot save failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    entry.dirty.notify_one();
                }
            }
        });
    }

    /// Stores `entry`'s snapshot if it changed since the last one, then deletes the log
    /// records it covers.
    async fn save(&self, entry: &Entry) -> Result<(), ClientError> {
        let _one = entry.saving.lock().await;
        if entry.state.load(Ordering::Acquire) != LIVE {
            return Ok(());
        }
        let generation = entry.index.generation();
        if generation == entry.saved_generation.load(Ordering::Acquire) {
            return Ok(());
        }
        // Read before encoding: the snapshot holds at least every write up to `covered`.
        let covered = entry.index.sequence();
        let ix = entry.index.clone();
        let start = Instant::now();
        let bytes = tokio::task::spawn_blocking(move || ix.encode())
            .await
            .map_err(|e| ClientError::Decode {
                url: String::new(),
                message: e.to_string(),
            })?;
        let size = bytes.len() as u64;
        let rid = lakehouse_common::request_id::generate();
        self.store.put_snapshot(&entry.name, bytes, &rid).await?;
        self.figures.saves.observe(start.elapsed());
        entry
            .last_save_ms
            .store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        lock(&self.figures.snapshot_bytes).insert(entry.name.clone(), size);
        entry.saved_generation.store(generation, Ordering::Release);
        let done: Vec<u64> = {
            let mut logged = lock(&entry.logged);
            let done: Vec<u64> = logged
                .iter()
                .filter(|&(_, &last)| last <= covered)
                .map(|(&first, _)| first)
                .collect();
            for first in &done {
                logged.remove(first);
            }
            done
        };
        for seq in done {
            // A record left behind is harmless: the next load deletes what a snapshot covers.
            if let Err(e) = self.store.delete_log(&entry.name, seq, &rid).await {
                tracing::warn!(index = %entry.name, seq, error = %e, "cannot delete a covered log record");
            }
        }
        tracing::info!(index = %entry.name, bytes = size, sequence = covered, elapsed_ms = start.elapsed().as_millis() as u64, "snapshot saved");
        Ok(())
    }

    /// Saves every index with unsaved writes now (graceful shutdown).
    pub async fn flush(&self) {
        for e in self.entries() {
            if let Err(err) = self.save(&e).await {
                tracing::warn!(index = %e.name, error = %err, "snapshot not saved at shutdown; its write log will be replayed at start");
            }
        }
    }

    /// Loads every index, retrying with backoff until storage answers.
    pub async fn load(self: &Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.load_once().await {
                Ok(()) => {
                    *lock(&self.load_error) = None;
                    self.loaded.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot load indexes");
                    *lock(&self.load_error) = Some(e.to_string());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn load_once(self: &Arc<Self>) -> Result<(), ClientError> {
        let start = Instant::now();
        let rid = lakehouse_common::request_id::generate();
        let mut listing = self.store.list(&rid).await?;
        // Other shards' indexes are theirs to load (and their logs theirs to replay).
        listing.snapshots.retain(|n| self.owns(n));
        listing.logs.retain(|n, _| self.owns(n));
        let mut problems = Vec::new();
        let mut loaded = Vec::new();
        for name in &listing.snapshots {
            let bytes = match self.store.get_snapshot(name, &rid).await {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                // A bad pointer or a missing part: this snapshot is damaged, not storage down.
                Err(e @ ClientError::Decode { .. }) => {
                    problems.push(format!("index '{name}': snapshot skipped: {e}"));
                    listing.logs.remove(name);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let decoded = tokio::task::spawn_blocking(move || Index::decode(&bytes)).await;
            let index = match decoded {
                Ok(Ok(ix)) => ix,
                Ok(Err(e)) => {
                    problems.push(format!("index '{name}': snapshot skipped: {e}"));
                    listing.logs.remove(name);
                    continue;
                }
                Err(e) => {
                    problems.push(format!("index '{name}': snapshot skipped: {e}"));
                    listing.logs.remove(name);
                    continue;
                }
            };
            let seqs = listing.logs.remove(name).unwrap_or_default();
            let (index, replayed) = self.replay(name, index, &seqs, &mut problems, &rid).await?;
            let next = index.sequence() + 1;
            let entry = Entry::new(name.clone(), index, next);
            lock(&entry.logged).extend(replayed.iter().copied());
            if !replayed.is_empty() {
                // Not saved yet: a fresh snapshot makes the replayed records deletable.
                entry.saved_generation.store(u64::MAX, Ordering::Release);
            }
            loaded.push((entry, !replayed.is_empty()));
        }
        for (name, seqs) in &listing.logs {
            problems.push(format!(
                "index '{name}': {} log record(s) without a snapshot were not replayed",
                seqs.len()
            ));
        }
        for k in &listing.strays {
            problems.push(format!("{k}: not an index object"));
        }
        for p in &problems {
            tracing::warn!(problem = %p, "vector storage problem");
        }
        let count = loaded.len();
        for (entry, dirty) in loaded {
            self.insert(entry.clone());
            if dirty {
                entry.dirty.notify_one();
            }
        }
        *lock(&self.problems) = problems;
        tracing::info!(
            indexes = count,
            elapsed_ms = start.elapsed().as_millis() as u64,
            "indexes loaded"
        );
        Ok(())
    }

    /// Applies the log records past the snapshot's position, in order; deletes the ones it
    /// covers. A record that cannot be read stops the replay there, reported.
    async fn replay(
        &self,
        name: &str,
        index: Index,
        seqs: &[u64],
        problems: &mut Vec<String>,
        rid: &str,
    ) -> Result<(Index, Vec<(u64, u64)>), ClientError> {
        let index = Arc::new(index);
        let base = index.sequence();
        let mut replayed = Vec::new();
        for (i, &seq) in seqs.iter().enumerate() {
            // Records are numbered contiguously: one followed by a record starting at or
            // before the snapshot's next number is wholly covered, and is not even read.
            if seqs.get(i + 1).is_some_and(|&n| n <= base + 1) {
                if let Err(e) = self.store.delete_log(name, seq, rid).await {
                    tracing::warn!(index = %name, seq, error = %e, "cannot delete a covered log record");
                }
                continue;
            }
            let bytes = self.store.get_log(name, seq, rid).await?;
            let records = match wal::decode(&bytes) {
                Ok((s, r)) if s == seq => r,
                Ok((s, _)) => {
                    problems.push(format!("index '{name}': log record {seq} holds number {s}; it and later records were not replayed"));
                    break;
                }
                Err(e) => {
                    problems.push(format!("index '{name}': log record {seq} unreadable ({e}); it and later records were not replayed"));
                    break;
                }
            };
            let last = seq + records.len() as u64 - 1;
            if last <= base {
                if let Err(e) = self.store.delete_log(name, seq, rid).await {
                    tracing::warn!(index = %name, seq, error = %e, "cannot delete a covered log record");
                }
                continue;
            }
            let ix = index.clone();
            let applied = tokio::task::spawn_blocking(move || -> Result<(), String> {
                for (s, record) in (seq..).zip(records) {
                    if s <= base {
                        continue;
                    }
                    match record {
                        Record::Upsert(items) => {
                            ix.upsert_at(items, Some(s)).map_err(|e| e.to_string())?;
                        }
                        Record::Delete(ids) => {
                            ix.delete_at(&ids, Some(s));
                        }
                    }
                }
                Ok(())
            })
            .await;
            if let Ok(Err(e)) | Err(e) = applied.map_err(|e| e.to_string()) {
                problems.push(format!("index '{name}': log record {seq} not applied ({e}); later records were not replayed"));
                break;
            }
            replayed.push((seq, last));
        }
        if !replayed.is_empty() {
            tracing::info!(index = %name, records = replayed.len(), "write log replayed");
        }
        let index = Arc::try_unwrap(index).map_err(|_| ClientError::Decode {
            url: String::new(),
            message: "index still shared after replay".into(),
        })?;
        Ok((index, replayed))
    }

    /// Creates an empty index, stored before the answer.
    pub async fn create(
        self: &Arc<Self>,
        name: &str,
        params: Params,
        text_field: Option<&str>,
    ) -> Result<Arc<Entry>, ApiError> {
        self.ensure_loaded()?;
        if let Some(e) = index_name_error(name) {
            return Err(ApiError::bad_request(e).with_code("invalid_name"));
        }
        self.ensure_owned(name)?;
        params
            .check()
            .map_err(|e| ApiError::bad_request(e).with_code("invalid_params"))?;
        let _one = self.ops.lock().await;
        if self.get(name).is_ok() {
            return Err(ApiError::conflict(format!("index '{name}' already exists"))
                .with_code("index_exists"));
        }
        let index = Index::with_text_field(params, text_field)
            .map_err(|e| ApiError::bad_request(e).with_code("invalid_params"))?;
        let rid = lakehouse_common::request_id::current().unwrap_or_default();
        // Leftovers of an earlier index of this name (an interrupted delete, a skipped
        // snapshot) must not be replayed into this one.
        self.store
            .delete_index(name, &rid)
            .await
            .map_err(|e| storage_error("the index was not created", &e))?;
        self.store
            .put_snapshot(name, index.encode(), &rid)
            .await
            .map_err(|e| storage_error("the index was not created", &e))?;
        let entry = Entry::new(name.to_owned(), index, 1);
        self.insert(entry.clone());
        lock(&self.problems).retain(|p| !p.starts_with(&format!("index '{name}':")));
        tracing::info!(index = %name, dimension = params.dimension, "index created");
        Ok(entry)
    }

    /// Deletes an index and its stored objects.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let entry = self.get(name)?;
        let _one = self.ops.lock().await;
        entry.live()?;
        entry.state.store(DROPPING, Ordering::Release);
        let _writes = entry.writer.lock().await;
        let _saves = entry.saving.lock().await;
        let rid = lakehouse_common::request_id::current().unwrap_or_default();
        if let Err(e) = self.store.delete_index(name, &rid).await {
            entry.state.store(LIVE, Ordering::Release);
            return Err(storage_error("the index was not deleted", &e));
        }
        self.indexes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        lock(&self.figures.snapshot_bytes).remove(name);
        entry.state.store(GONE, Ordering::Release);
        entry.dirty.notify_one();
        tracing::info!(index = %name, "index deleted");
        Ok(())
    }

    /// Stores the record of `writes`, numbered from `seq`, in `entry`'s log; nothing is
    /// applied when this fails.
    async fn log(&self, entry: &Entry, seq: u64, writes: &[Write<'_>]) -> Result<(), ApiError> {
        let bytes = wal::encode(seq, writes, entry.index.params().dimension);
        let rid = lakehouse_common::request_id::current().unwrap_or_default();
        let start = Instant::now();
        let put = tokio::time::timeout(
            self.log_timeout,
            self.store.put_log(&entry.name, seq, bytes, &rid),
        )
        .await;
        match put {
            Ok(Ok(())) => {
                self.figures.log_writes.observe(start.elapsed());
                lock(&entry.logged).insert(seq, seq + writes.len() as u64 - 1);
                Ok(())
            }
            Ok(Err(e)) => Err(storage_error("the write was not applied", &e)),
            Err(_) => Err(ApiError::unavailable(format!(
                "the write was not applied: storing its log record took longer than {} ms",
                self.log_timeout.as_millis()
            ))
            .with_code("storage_unavailable")),
        }
    }

    /// Queues `change` for `entry`'s next group and waits for its answer. Whoever holds the
    /// writer lock commits every queued write, so a write is never left waiting in the queue:
    /// its own task takes the lock after queueing it.
    async fn submit(&self, entry: &Entry, change: Record) -> Result<(usize, usize), ApiError> {
        let (reply, answer) = oneshot::channel();
        lock(&entry.queue).push(Pending { change, reply });
        {
            let mut next = entry.writer.lock().await;
            while self.commit_group(entry, &mut next).await {}
        }
        answer
            .await
            .unwrap_or_else(|_| Err(internal("the write was dropped unanswered")))
    }

    /// Logs and applies the queued writes that fit one record, answering each; false when
    /// the queue was empty.
    async fn commit_group(&self, entry: &Entry, next: &mut u64) -> bool {
        let group: Vec<Pending> = {
            let mut queue = lock(&entry.queue);
            let dimension = entry.index.params().dimension;
            let mut size = 0;
            let take = queue
                .iter()
                .take_while(|p| {
                    let first = size == 0;
                    size += p.change.as_write().size(dimension).max(1);
                    first || size <= GROUP_BYTES
                })
                .count();
            queue.drain(..take).collect()
        };
        if group.is_empty() {
            return false;
        }
        let (changes, replies): (Vec<Record>, Vec<_>) =
            group.into_iter().map(|p| (p.change, p.reply)).unzip();
        let answer_all = |replies: Vec<oneshot::Sender<_>>, e: ApiError| {
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
        };
        if let Err(e) = entry.live() {
            answer_all(replies, e);
            return true;
        }
        // A delete naming nothing present, before or within the group, is answered without
        // being logged.
        let mut upserted: HashSet<&str> = HashSet::new();
        let logs: Vec<bool> = changes
            .iter()
            .map(|c| match c {
                Record::Upsert(items) => {
                    upserted.extend(items.iter().map(|i| i.id.as_str()));
                    true
                }
                Record::Delete(ids) => ids
                    .iter()
                    .any(|id| upserted.contains(id.as_str()) || entry.index.contains(id)),
            })
            .collect();
        drop(upserted);
        let writes: Vec<Write<'_>> = changes
            .iter()
            .zip(&logs)
            .filter(|&(_, &l)| l)
            .map(|(c, _)| c.as_write())
            .collect();
        let first = *next;
        if !writes.is_empty() {
            if let Err(e) = self.log(entry, first, &writes).await {
                answer_all(replies, e);
                return true;
            }
            *next += writes.len() as u64;
        }
        drop(writes);
        let ix = entry.index.clone();
        let applied = blocking(move || {
            let mut next_seq = first;
            changes
                .into_iter()
                .zip(logs)
                .map(|(change, logged)| {
                    if !logged {
                        return Ok((0, ix.len()));
                    }
                    let seq = next_seq;
                    next_seq += 1;
                    match change {
                        Record::Upsert(items) => ix.upsert_at(items, Some(seq)).map_err(internal),
                        Record::Delete(ids) => Ok(ix.delete_at(&ids, Some(seq))),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await;
        match applied {
            Ok(answers) => {
                for (r, a) in replies.into_iter().zip(answers) {
                    let _ = r.send(a);
                }
            }
            Err(e) => answer_all(replies, e),
        }
        self.applied(entry);
        true
    }

    fn applied(&self, entry: &Entry) {
        entry.dirty.notify_one();
        entry.index.compact_if_due();
    }

    /// Adds or replaces items, all or none: `(applied, length)`.
    pub async fn add(&self, name: &str, items: Vec<Item>) -> Result<(usize, usize), ApiError> {
        let entry = self.get(name)?;
        entry.live()?;
        entry
            .index
            .check(&items)
            .map_err(|e| ApiError::bad_request(e.to_string()).with_code("invalid_item"))?;
        if items.is_empty() {
            return Err(ApiError::bad_request("items must be non-empty").with_code("invalid_item"));
        }
        self.submit(&entry, Record::Upsert(items)).await
    }

    /// Deletes the ids present: `(deleted, length)`. Nothing present, nothing logged.
    pub async fn delete_items(
        &self,
        name: &str,
        ids: Vec<String>,
    ) -> Result<(usize, usize), ApiError> {
        let entry = self.get(name)?;
        entry.live()?;
        if ids.is_empty() {
            return Ok((0, entry.index.len()));
        }
        self.submit(&entry, Record::Delete(ids)).await
    }

    /// Copies `source`'s items into `dest` (see [`Index::merge_plan`]), each side logged.
    pub async fn merge(
        &self,
        source: &str,
        dest: &str,
        clear_source: bool,
    ) -> Result<MergeOutcome, ApiError> {
        if source == dest {
            return Err(
                ApiError::bad_request("the destination must differ from the source")
                    .with_code("invalid_merge"),
            );
        }
        let src = self.get(source)?;
        let dst = self.get(dest)?;
        // Both writers, always in name order, so two opposite merges cannot deadlock.
        let (first, second) = if source < dest {
            (&src, &dst)
        } else {
            (&dst, &src)
        };
        let mut g1 = first.writer.lock().await;
        let mut g2 = second.writer.lock().await;
        let (src_next, dst_next) = if source < dest {
            (&mut *g1, &mut *g2)
        } else {
            (&mut *g2, &mut *g1)
        };
        src.live()?;
        dst.live()?;
        let (s, d) = (src.index.clone(), dst.index.clone());
        let plan = blocking(move || s.merge_plan(&d))
            .await?
            .map_err(|e| ApiError::bad_request(e).with_code("invalid_merge"))?;
        let mut report = plan.report;
        let mut moved = plan.moved;
        if !plan.items.is_empty() {
            let seq = *dst_next;
            let ids: Vec<String> = plan.items.iter().map(|i| i.id.clone()).collect();
            let items = plan.items;
            self.log(&dst, seq, &[Write::Upsert(&items)]).await?;
            *dst_next += 1;
            let ix = dst.index.clone();
            let (n, _) = blocking(move || ix.upsert_at(items, Some(seq)))
                .await?
                .map_err(internal)?;
            report.merged = n;
            moved.extend(ids);
            self.applied(&dst);
        }
        if clear_source && !moved.is_empty() {
            let seq = *src_next;
            let ids = moved;
            self.log(&src, seq, &[Write::Delete(&ids)]).await.map_err(|e| {
                ApiError::unavailable(format!(
                    "{} items were merged into '{dest}', but clearing them from '{source}' failed: {}",
                    report.merged, e.message
                ))
                .with_code("storage_unavailable")
            })?;
            *src_next += 1;
            let ix = src.index.clone();
            blocking(move || ix.delete_at(&ids, Some(seq))).await?;
            self.applied(&src);
        }
        Ok(MergeOutcome {
            merged: report.merged,
            skipped_already_present: report.skipped_already_present,
            failed: report.failed,
            length_dest: dst.index.len(),
            length_source: src.index.len(),
            first_error: report.first_error,
        })
    }

    /// The index's exact state now, for a commit: writes are held off while it is encoded.
    pub async fn state_for_commit(&self, name: &str) -> Result<CommitState, ApiError> {
        let entry = self.get(name)?;
        entry.live()?;
        let _no_writes = entry.writer.lock().await;
        let ix = entry.index.clone();
        let (sequence, bytes, items) =
            blocking(move || (ix.sequence(), ix.encode(), ix.len())).await?;
        Ok(CommitState {
            sequence,
            bytes,
            items,
            dimension: entry.index.params().dimension,
        })
    }

    /// Commits and past states, once [`Registry::set_history`] has been called.
    pub fn history(&self) -> Result<&crate::history::History, ApiError> {
        self.history.get().ok_or_else(|| {
            ApiError::unavailable("index history is not set up").with_code("not_ready")
        })
    }

    /// Sets up commits and searches as of past versions.
    pub fn set_history(&self, h: crate::history::History) {
        let _ = self.history.set(h);
    }
}
