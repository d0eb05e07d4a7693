//! One index's state under a single lock: slots of the graph with their ids and metadata,
//! tombstones, upsert/delete semantics and search with exclusions and filters.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::distance::{Metric, normalize, reported, usable_norm};
use crate::graph::{Graph, Near, Shape};
use crate::hybrid::Fusion;
use crate::params::Params;
use crate::text::TextIndex;

/// Metadata: a JSON object per item.
pub type Metadata = Map<String, Value>;

/// One item to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Non-empty id.
    pub id: String,
    /// The vector (normalised on insert under cosine).
    pub vector: Vec<f32>,
    /// `None` keeps the stored metadata; an empty object clears it.
    pub metadata: Option<Metadata>,
}

/// One search answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The item's id.
    pub id: String,
    /// Distance to the query (smaller is closer).
    pub distance: f32,
    /// The item's metadata (an empty object when it has none).
    pub metadata: Metadata,
    /// A keyword search's BM25 score, or a hybrid search's fused score (higher is better);
    /// `None` for a vector search. A keyword search alone has no distance (NaN).
    pub score: Option<f32>,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    /// The query vector.
    pub vector: &'a [f32],
    /// Results wanted.
    pub k: usize,
    /// Candidate list size (`None`: the index's `ef_search`); raised to `k` when smaller.
    pub ef: Option<usize>,
    /// Ids never returned.
    pub exclude: Option<&'a HashSet<String>>,
    /// Only items whose metadata has each of these top-level fields equal.
    pub filter: Option<&'a Metadata>,
    /// Keywords, scored by BM25 over the index's text field: alone when `vector` is empty,
    /// else fused with the vector ranking.
    pub text: Option<&'a str>,
    /// How a hybrid search weighs its rankings (default [`Fusion::default`]).
    pub fusion: Option<Fusion>,
}

/// Longest id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// Deepest metadata accepted: the metadata object itself is level 1. The write log and the
/// snapshot hold metadata a few levels inside their own JSON envelopes, whose parser stops at
/// 128 levels; this limit keeps every accepted item far inside what both can read back.
pub const MAX_METADATA_DEPTH: usize = 64;

/// How deeply `meta` nests (the object itself is 1), without recursion.
pub fn metadata_depth(meta: &Metadata) -> usize {
    let mut deepest = 1;
    let mut stack: Vec<(&serde_json::Value, usize)> = meta.values().map(|v| (v, 2)).collect();
    while let Some((v, d)) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                deepest = deepest.max(d);
                stack.extend(m.values().map(|c| (c, d + 1)));
            }
            serde_json::Value::Array(a) => {
                deepest = deepest.max(d);
                stack.extend(a.iter().map(|c| (c, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Searches over at most this many live items score every item, so small indexes are exact.
/// Measured (scripts/bench/vectors.sh, 384-d, k=10, ef=64): scoring everything took 57 µs
/// against the walk's 84 µs at 1,024 items, and 130 µs against 123 µs at 2,048.
pub const EXACT_BELOW: usize = 1024;

/// An item refused, with its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// Position in the batch.
    pub index: usize,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "items[{}]: {}", self.index, self.reason)
    }
}

/// Checks a vector: length, finite values, not zero under cosine.
pub(crate) fn validate(params: &Params, v: &[f32]) -> Result<(), String> {
    if v.len() != params.dimension {
        return Err(format!(
            "vector has {} values; the index has dimension {}",
            v.len(),
            params.dimension
        ));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err("vector holds NaN or infinity".into());
    }
    if params.distance == Metric::Cosine && usable_norm(v).is_none() {
        return Err("a zero vector (or one whose length overflows) has no cosine distance".into());
    }
    Ok(())
}

/// Checks and prepares a vector: unit length under cosine.
pub(crate) fn prepare(params: &Params, v: &[f32]) -> Result<Vec<f32>, String> {
    validate(params, v)?;
    let mut v = v.to_vec();
    if params.distance == Metric::Cosine && !normalize(&mut v) {
        return Err("a zero vector (or one whose length overflows) has no cosine distance".into());
    }
    Ok(v)
}

/// Checks every item of a batch without copying it.
pub(crate) fn check_batch(params: &Params, items: &[Item]) -> Result<(), ItemError> {
    for (index, it) in items.iter().enumerate() {
        let bad = |reason: String| ItemError { index, reason };
        if it.id.is_empty() {
            return Err(bad("id is empty".into()));
        }
        if it.id.len() > MAX_ID_BYTES {
            return Err(bad(format!("id is longer than {MAX_ID_BYTES} bytes")));
        }
        if let Some(depth) = it.metadata.as_ref().map(metadata_depth)
            && depth > MAX_METADATA_DEPTH
        {
            return Err(bad(format!(
                "metadata nests {depth} levels deep; the limit is {MAX_METADATA_DEPTH}"
            )));
        }
        validate(params, &it.vector).map_err(bad)?;
    }
    Ok(())
}

/// Checks a batch and keeps, for ids named twice, only the last: all or nothing.
pub(crate) fn prepare_batch(params: &Params, items: Vec<Item>) -> Result<Vec<Item>, ItemError> {
    check_batch(params, &items)?;
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (index, it) in items.iter().enumerate() {
        last.insert(&it.id, index);
    }
    let keep: Vec<bool> = (0..items.len())
        .map(|i| last.get(items[i].id.as_str()) == Some(&i))
        .collect();
    let mut out = Vec::with_capacity(last.len());
    for (index, (mut it, keep)) in items.into_iter().zip(keep).enumerate() {
        if keep {
            it.vector =
                prepare(params, &it.vector).map_err(|reason| ItemError { index, reason })?;
            out.push(it);
        }
    }
    Ok(out)
}

pub(crate) fn matches(meta: Option<&Metadata>, filter: &Metadata) -> bool {
    filter
        .iter()
        .all(|(k, v)| meta.and_then(|m| m.get(k)) == Some(v))
}

/// The state.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) params: Params,
    pub(crate) graph: Graph,
    /// Per slot: the id it holds, `None` when free (deleted or replaced).
    pub(crate) ids: Vec<Option<String>>,
    /// Per slot: holds a live item. `ids` says the same, but this byte per slot stays in
    /// cache during a graph walk where reading `ids` would miss it at every candidate.
    pub(crate) live: Vec<bool>,
    pub(crate) meta: Vec<Option<Metadata>>,
    pub(crate) by_id: HashMap<String, u32>,
    /// Free slots, reused by later inserts.
    pub(crate) free: Vec<u32>,
    /// Live items up to which searches are exact.
    pub(crate) exact_below: usize,
    /// The caller's number for the last write applied (a log position), saved with the index.
    pub(crate) sequence: u64,
    /// Threads linking a batch.
    pub(crate) threads: usize,
    /// The keyword index over the text field, when the index has one.
    pub(crate) text: Option<TextIndex>,
}

/// Threads a batch links on by default: one per core.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl Core {
    pub(crate) fn new(params: Params) -> Self {
        Self {
            graph: Graph::new(Self::shape(&params)),
            params,
            ids: Vec::new(),
            live: Vec::new(),
            meta: Vec::new(),
            by_id: HashMap::new(),
            free: Vec::new(),
            exact_below: EXACT_BELOW,
            sequence: 0,
            threads: default_threads(),
            text: None,
        }
    }

    /// An empty core whose metadata field `field` is keyword-searchable.
    pub(crate) fn with_text(params: Params, field: Option<&str>) -> Self {
        Self {
            text: field.map(TextIndex::new),
            ..Self::new(params)
        }
    }

    fn index_text(&mut self, slot: u32) {
        if let Some(t) = &mut self.text {
            t.set(slot, self.meta[slot as usize].as_ref());
        }
    }

    pub(crate) fn shape(p: &Params) -> Shape {
        Shape {
            dim: p.dimension,
            m: p.m,
            ef_construction: p.ef_construction,
            metric: p.distance,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.free.len()
    }

    /// Applies prepared items (see `prepare_batch`, which leaves each id once): every slot is
    /// placed first, then the new slots are linked together on `threads` threads.
    pub(crate) fn upsert(&mut self, items: Vec<Item>) {
        self.graph
            .reserve(items.len().saturating_sub(self.free.len()));
        let mut placed = Vec::with_capacity(items.len());
        for it in items {
            if let Some(slot) = self.place(it) {
                self.graph.assign_level(slot);
                placed.push(slot);
            }
        }
        self.graph.link_all(&placed, self.threads);
    }

    /// Books `it` into a slot (its vector, id and metadata); the slot to link, or `None` when
    /// only its metadata changed.
    fn place(&mut self, it: Item) -> Option<u32> {
        let mut keep_meta = None;
        if let Some(&slot) = self.by_id.get(&it.id) {
            if self.graph.vector(slot) == it.vector.as_slice() {
                if let Some(m) = it.metadata {
                    self.meta[slot as usize] = (!m.is_empty()).then_some(m);
                    self.index_text(slot);
                }
                return None;
            }
            keep_meta = self.meta[slot as usize].take();
            self.release(slot);
        }
        let metadata = match it.metadata {
            Some(m) => (!m.is_empty()).then_some(m),
            None => keep_meta,
        };
        // The entry point is never reused: relinking it would orphan the levels above.
        let entry = self.graph.entry();
        let reuse = self.free.iter().rposition(|&s| Some(s) != entry);
        let slot = match reuse {
            Some(i) => {
                let s = self.free.swap_remove(i);
                self.graph.reset(s, &it.vector);
                s
            }
            None => {
                self.ids.push(None);
                self.live.push(false);
                self.meta.push(None);
                self.graph.push(&it.vector)
            }
        };
        self.ids[slot as usize] = Some(it.id.clone());
        self.live[slot as usize] = true;
        self.meta[slot as usize] = metadata;
        self.index_text(slot);
        self.by_id.insert(it.id, slot);
        Some(slot)
    }

    fn release(&mut self, slot: u32) {
        self.live[slot as usize] = false;
        if let Some(id) = self.ids[slot as usize].take() {
            self.by_id.remove(&id);
        }
        self.meta[slot as usize] = None;
        if let Some(t) = &mut self.text {
            t.remove(slot);
        }
        self.free.push(slot);
    }

    /// Deletes the ids present; how many were.
    pub(crate) fn delete(&mut self, ids: &[String]) -> usize {
        let mut n = 0;
        for id in ids {
            if let Some(&slot) = self.by_id.get(id) {
                self.release(slot);
                n += 1;
            }
        }
        if self.by_id.is_empty() && !self.ids.is_empty() {
            // Nothing live: start over rather than keep a graph of tombstones.
            *self = Self {
                exact_below: self.exact_below,
                sequence: self.sequence,
                threads: self.threads,
                text: self.text.as_ref().map(TextIndex::emptied),
                ..Self::new(self.params)
            };
        }
        n
    }

    pub(crate) fn get(&self, id: &str) -> Option<(Vec<f32>, Metadata)> {
        let &slot = self.by_id.get(id)?;
        Some((
            self.graph.vector(slot).to_vec(),
            self.meta[slot as usize].clone().unwrap_or_default(),
        ))
    }

    /// Every live item, in slot order.
    pub(crate) fn items(&self) -> Vec<Item> {
        self.ids
            .iter()
            .enumerate()
            .filter_map(|(s, id)| {
                Some(Item {
                    id: id.clone()?,
                    vector: self.graph.vector(s as u32).to_vec(),
                    metadata: Some(self.meta[s].clone().unwrap_or_default()),
                })
            })
            .collect()
    }

    /// Nearest live items, never an excluded or filtered-out one; `min(k, matching)` of them.
    /// With `text`, a keyword or hybrid search instead (see `hybrid.rs`).
    pub(crate) fn search(&self, q: &Query<'_>) -> Result<Vec<Hit>, String> {
        match q.text {
            Some(t) if q.vector.is_empty() => return self.search_text(t, q),
            Some(t) => return self.search_hybrid(t, q),
            None => {}
        }
        Ok(self
            .search_slots(q)?
            .into_iter()
            .filter_map(|(slot, distance)| {
                Some(Hit {
                    id: self.ids[slot as usize].clone()?,
                    distance,
                    metadata: self.meta[slot as usize].clone().unwrap_or_default(),
                    score: None,
                })
            })
            .collect())
    }

    /// The vector search's slots and reported distances, nearest first.
    pub(crate) fn search_slots(&self, q: &Query<'_>) -> Result<Vec<(u32, f32)>, String> {
        let v = prepare(&self.params, q.vector)?;
        let k = q.k;
        if k == 0 || self.by_id.is_empty() {
            return Ok(Vec::new());
        }
        let plain = q.exclude.is_none() && q.filter.is_none();
        let accept = |slot: u32| -> bool {
            if !self.live[slot as usize] {
                return false;
            }
            if plain {
                return true;
            }
            let Some(id) = &self.ids[slot as usize] else {
                return false;
            };
            if q.exclude.is_some_and(|x| x.contains(id)) {
                return false;
            }
            q.filter
                .is_none_or(|f| matches(self.meta[slot as usize].as_ref(), f))
        };
        let mut found = if self.by_id.len() <= self.exact_below {
            self.graph.exact(&v, k, &accept)
        } else {
            let ef = q.ef.unwrap_or(self.params.ef_search).max(k);
            // With no free slot and no condition every slot is an answer: the walk then
            // skips the per-candidate check.
            let mut f = if plain && self.free.is_empty() {
                self.graph.search(&v, ef, &|_| true)
            } else {
                self.graph.search(&v, ef, &accept)
            };
            f.truncate(k);
            f
        };
        if found.len() < k && self.by_id.len() > self.exact_below {
            // Exclusions or a narrow filter starved the graph walk: score everything.
            found = self.graph.exact(&v, k, &accept);
        }
        Ok(found
            .into_iter()
            .map(|Near(d, slot)| (slot, reported(self.params.distance, d)))
            .collect())
    }

    /// A compacted copy: live items only, graph rebuilt, memory sized to them.
    pub(crate) fn rebuilt(
        params: Params,
        exact_below: usize,
        sequence: u64,
        threads: usize,
        text_field: Option<&str>,
        items: Vec<Item>,
    ) -> Self {
        let mut c = Self {
            exact_below,
            sequence,
            threads,
            ..Self::with_text(params, text_field)
        };
        c.upsert(items);
        c.graph.shrink_to_fit();
        c.ids.shrink_to_fit();
        c.live.shrink_to_fit();
        c.meta.shrink_to_fit();
        c
    }
}
