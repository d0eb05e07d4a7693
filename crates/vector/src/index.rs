//! A shareable index: searches run together under a read lock, writes one at a time; once
//! tombstones pass a threshold a background thread rebuilds the graph from the live items
//! while searches and writes go on, replays the writes made meanwhile and swaps it in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::codec;
use crate::core::{Core, Hit, Item, ItemError, Metadata, Query, prepare_batch};
use crate::params::Params;

/// Compaction starts when tombstones are at least this many…
pub const COMPACT_MIN_TOMBSTONES: usize = 1024;
/// …and at least this fraction of all slots.
pub const COMPACT_FRACTION: f64 = 0.25;

/// Items applied per write-lock hold, so a large batch never stalls searches for long.
pub const APPLY_CHUNK: usize = 256;

#[derive(Debug)]
enum Op {
    Upsert(Vec<Item>, Option<u64>),
    Delete(Vec<String>, Option<u64>),
}

/// What a merge will do, worked out before anything changes (see [`Index::merge_plan`]).
#[derive(Debug, Clone, Default)]
pub struct MergePlan {
    /// Items to add to the destination.
    pub items: Vec<Item>,
    /// Ids to remove from the source under `clear_source`: merged and skipped ones.
    pub moved: Vec<String>,
    /// Counts so far (`merged` is filled once the items are applied).
    pub report: MergeReport,
}

/// Counts of a merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Items added to the destination.
    pub merged: usize,
    /// Items whose id the destination already held.
    pub skipped_already_present: usize,
    /// Items that could not be added.
    pub failed: usize,
    /// The first failure.
    pub first_error: Option<String>,
}

/// Figures for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Live items.
    pub length: usize,
    /// Slots held by deleted or replaced items, not yet reused.
    pub tombstones: usize,
    /// All slots.
    pub slots: usize,
    /// Compactions finished.
    pub compactions: u64,
}

/// A named index's contents.
#[derive(Debug)]
pub struct Index {
    core: RwLock<Core>,
    /// Writes made while a compaction copies and rebuilds; `None` when none runs.
    journal: Mutex<Option<Vec<Op>>>,
    /// A background compaction is scheduled or running.
    compacting: AtomicBool,
    /// Held by whichever compaction runs.
    compaction: Mutex<()>,
    compactions: AtomicU64,
    /// Bumped by every write: tells a saver whether there is anything new.
    generation: AtomicU64,
}

impl Index {
    /// An empty index.
    pub fn new(params: Params) -> Result<Self, String> {
        Self::with_text_field(params, None)
    }

    /// An empty index whose metadata field `text_field` (a string, or a list of strings) is
    /// keyword-searchable (BM25), alone or fused with the vectors.
    pub fn with_text_field(params: Params, text_field: Option<&str>) -> Result<Self, String> {
        params.check()?;
        if let Some(f) = text_field
            && (f.is_empty() || f.len() > 256)
        {
            return Err("text_field must be 1 to 256 bytes".into());
        }
        Ok(Self::from_core(Core::with_text(params, text_field)))
    }

    /// The keyword-searchable metadata field, if any.
    pub fn text_field(&self) -> Option<String> {
        self.read().text.as_ref().map(|t| t.field().to_owned())
    }

    fn from_core(core: Core) -> Self {
        Self {
            core: RwLock::new(core),
            journal: Mutex::new(None),
            compacting: AtomicBool::new(false),
            compaction: Mutex::new(()),
            compactions: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Core> {
        self.core.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Core> {
        self.core.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self, op: impl FnOnce() -> Op) {
        let mut j = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ops) = j.as_mut() {
            ops.push(op());
        }
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.read().params
    }

    /// Live items.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// No live items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes so far (any write bumps it).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Figures for metrics.
    pub fn stats(&self) -> Stats {
        let c = self.read();
        Stats {
            length: c.len(),
            tombstones: c.tombstones(),
            slots: c.graph.slots(),
            compactions: self.compactions.load(Ordering::Relaxed),
        }
    }

    /// The caller's number for the last write applied (see [`Index::upsert_at`]).
    pub fn sequence(&self) -> u64 {
        self.read().sequence
    }

    /// Checks a batch as [`Index::upsert`] would, changing nothing.
    pub fn check(&self, items: &[Item]) -> Result<(), ItemError> {
        crate::core::check_batch(&self.params(), items)
    }

    /// Adds or replaces items, all or none; the number applied (ids named twice count once,
    /// the last wins) and the new length.
    pub fn upsert(&self, items: Vec<Item>) -> Result<(usize, usize), ItemError> {
        self.upsert_at(items, None)
    }

    /// [`Index::upsert`], recording `sequence` (a log position) with the last chunk applied.
    /// Every item is checked before any is applied; the items then go in chunks of
    /// [`APPLY_CHUNK`] so searches run between them.
    pub fn upsert_at(
        &self,
        items: Vec<Item>,
        sequence: Option<u64>,
    ) -> Result<(usize, usize), ItemError> {
        let params = self.params();
        let mut items = prepare_batch(&params, items)?;
        let n = items.len();
        loop {
            let rest = items.split_off(items.len().min(APPLY_CHUNK));
            let chunk = std::mem::replace(&mut items, rest);
            let last = items.is_empty();
            let seq = if last { sequence } else { None };
            let mut c = self.write();
            self.log(|| Op::Upsert(chunk.clone(), seq));
            c.upsert(chunk);
            if let Some(s) = seq {
                c.sequence = s;
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
            if last {
                return Ok((n, c.len()));
            }
        }
    }

    /// Deletes the ids present; how many were, and the new length.
    pub fn delete(&self, ids: &[String]) -> (usize, usize) {
        self.delete_at(ids, None)
    }

    /// [`Index::delete`], recording `sequence` (a log position).
    pub fn delete_at(&self, ids: &[String], sequence: Option<u64>) -> (usize, usize) {
        let mut c = self.write();
        self.log(|| Op::Delete(ids.to_vec(), sequence));
        let n = c.delete(ids);
        if let Some(s) = sequence {
            c.sequence = s;
        }
        if n > 0 || sequence.is_some() {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        (n, c.len())
    }

    /// One item's vector (as stored: unit length under cosine) and metadata.
    pub fn get(&self, id: &str) -> Option<(Vec<f32>, Metadata)> {
        self.read().get(id)
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: &str) -> bool {
        self.read().by_id.contains_key(id)
    }

    /// Nearest items (see [`Query`]); an error names what is wrong with the query vector.
    pub fn search(&self, q: &Query<'_>) -> Result<Vec<Hit>, String> {
        self.read().search(q)
    }

    /// [`Index::search`], but only while the index holds exactly write `sequence` (checked
    /// under the same lock as the search, so no write slips in between); `None` otherwise.
    pub fn search_at_sequence(
        &self,
        q: &Query<'_>,
        sequence: u64,
    ) -> Option<Result<Vec<Hit>, String>> {
        let core = self.read();
        (core.sequence == sequence).then(|| core.search(q))
    }

    /// Every live item.
    pub fn items(&self) -> Vec<Item> {
        self.read().items()
    }

    /// The whole index in the `.lhv1` format.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.read())
    }

    /// An index from `.lhv1` bytes, graph as saved (no rebuild).
    pub fn decode(bytes: &[u8]) -> Result<Self, codec::DecodeError> {
        Ok(Self::from_core(codec::decode(bytes)?))
    }

    /// Searches over at most `n` live items score every item (default [`crate::EXACT_BELOW`];
    /// 0 always walks the graph — for tests and benchmarks).
    pub fn set_exact_below(&self, n: usize) {
        self.write().exact_below = n;
    }

    /// Threads a batch of inserts links on (default: one per core; 1 builds the same graph
    /// for the same writes every time).
    pub fn set_threads(&self, n: usize) {
        self.write().threads = n.max(1);
    }

    /// Whether tombstones have passed the compaction threshold.
    pub fn wants_compaction(&self) -> bool {
        let c = self.read();
        let t = c.tombstones();
        t >= COMPACT_MIN_TOMBSTONES && t as f64 >= COMPACT_FRACTION * c.graph.slots() as f64
    }

    /// Starts a background compaction if one is due and none runs.
    pub fn compact_if_due(self: &Arc<Self>) {
        if !self.wants_compaction() || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("vector-compact".into())
            .spawn(move || {
                let _one = me.compaction.lock().unwrap_or_else(PoisonError::into_inner);
                if me.wants_compaction() {
                    me.compact_now();
                }
                me.compacting.store(false, Ordering::Release);
            })
            .map(drop)
            .unwrap_or_else(|_| self.compacting.store(false, Ordering::Release));
    }

    /// Rebuilds from the live items now, on this thread (after any compaction running);
    /// searches and writes carry on meanwhile.
    pub fn compact(&self) {
        let _one = self
            .compaction
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.compact_now();
    }

    fn compact_now(&self) {
        let (params, exact_below, sequence, threads, text_field, items) = {
            let c = self.read();
            // No writer runs while the read lock is held: the copy and the journal's start
            // are the same moment.
            *self.journal.lock().unwrap_or_else(PoisonError::into_inner) = Some(Vec::new());
            let field = c.text.as_ref().map(|t| t.field().to_owned());
            (
                c.params,
                c.exact_below,
                c.sequence,
                c.threads,
                field,
                c.items(),
            )
        };
        let mut fresh = Core::rebuilt(
            params,
            exact_below,
            sequence,
            threads,
            text_field.as_deref(),
            items,
        );
        let mut c = self.write();
        let ops = self
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        for op in ops {
            match op {
                Op::Upsert(items, seq) => {
                    fresh.upsert(items);
                    fresh.sequence = seq.unwrap_or(fresh.sequence);
                }
                Op::Delete(ids, seq) => {
                    fresh.delete(&ids);
                    fresh.sequence = seq.unwrap_or(fresh.sequence);
                }
            }
        }
        *c = fresh;
        drop(c);
        self.compactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Copies `self`'s items into `dest`, skipping ids it holds; with `clear_source`, removes
    /// merged and skipped ids from `self`. The dimensions must match and `dest` must differ.
    pub fn merge_into(&self, dest: &Index, clear_source: bool) -> Result<MergeReport, String> {
        let MergePlan {
            items,
            mut moved,
            mut report,
        } = self.merge_plan(dest)?;
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        let (n, _) = dest
            .upsert(items)
            .map_err(|e| format!("merging into the destination: {e}"))?;
        report.merged = n;
        moved.extend(ids);
        if clear_source {
            self.delete(&moved);
        }
        Ok(report)
    }

    /// What merging `self` into `dest` would do, without doing it — for a caller that logs a
    /// write before applying it. Items whose id `dest` holds are skipped; items valid here but
    /// not there (a zero vector moving from euclidean to cosine) are counted as failed.
    pub fn merge_plan(&self, dest: &Index) -> Result<MergePlan, String> {
        if std::ptr::eq(self, dest) {
            return Err("the destination must differ from the source".into());
        }
        let (sp, dp) = (self.params(), dest.params());
        if sp.dimension != dp.dimension {
            return Err(format!(
                "dimensions differ: source {}, destination {}",
                sp.dimension, dp.dimension
            ));
        }
        // Copied first, so neither lock is held while the other is taken.
        let mut plan = MergePlan::default();
        for it in self.items() {
            if dest.contains(&it.id) {
                plan.report.skipped_already_present += 1;
                plan.moved.push(it.id);
            } else if let Err(e) = crate::core::validate(&dp, &it.vector) {
                plan.report.failed += 1;
                plan.report
                    .first_error
                    .get_or_insert_with(|| format!("{}: {e}", it.id));
            } else {
                plan.items.push(it);
            }
        }
        Ok(plan)
    }
}
