//! The HNSW graph over numbered slots, after hnswlib: every vector in one contiguous buffer,
//! level-0 neighbour lists in fixed-size slots (`count, n₁…n_M0`), upper levels stored only
//! for the few slots that reach them, and the neighbour-selection heuristic. It knows nothing
//! of ids, deletions or metadata: searches take a predicate saying which slots may be answers,
//! and every slot, answer or not, still routes.
//!
//! Links are atomics so that a batch links on several threads at once, as hnswlib does: the
//! vectors of the batch are placed first (they never move while linking), each list is
//! rewritten under the lock of its stripe (one lock held at a time, so no deadlock), the entry
//! point changes under its own lock, and readers load lists without locking — a list read
//! mid-update holds valid slot numbers either way. Relaxed loads compile to plain loads.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering as Mem};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::distance::{Kernel, Metric, kernel, prefetch, prefetch_ptr};

/// Hints the load of a neighbour list (a few words; one line is enough for the prefetcher).
#[inline(always)]
fn prefetch_list(words: &[AtomicU32]) {
    if let Some(w) = words.first() {
        prefetch_ptr(w.as_ptr().cast_const().cast());
    }
}

/// Levels above this are never drawn (with M ≥ 2 the chance is below 2⁻³²).
const MAX_LEVEL: u8 = 31;
/// Locks guarding list rewrites; slot `s` uses stripe `s % LOCK_STRIPES`.
const LOCK_STRIPES: usize = 1 << 12;
/// No entry point.
const NO_ENTRY: u64 = u64::MAX;

fn atomics(words: Vec<u32>) -> Vec<AtomicU32> {
    words.into_iter().map(AtomicU32::new).collect()
}

fn plain(words: &[AtomicU32]) -> Vec<u32> {
    words.iter().map(|w| w.load(Mem::Relaxed)).collect()
}

/// A slot and its distance to the query, ordered by distance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Near(pub(crate) f32, pub(crate) u32);

impl PartialEq for Near {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Near {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Marks of visited slots, reset in O(1) by moving to a new epoch; one per searching thread.
/// Two bytes a slot (as hnswlib) keep the marks of 100,000 slots in 200 KB of cache.
#[derive(Debug, Default)]
struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn start(&mut self, slots: usize) {
        if self.marks.len() < slots {
            self.marks.resize(slots, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `slot`; false if it was already marked in this epoch.
    #[inline]
    fn insert(&mut self, slot: u32) -> bool {
        let m = &mut self.marks[slot as usize];
        if *m == self.epoch {
            return false;
        }
        *m = self.epoch;
        true
    }
}

/// A searching thread's reusable state: the visited marks and the two heaps, so a search
/// allocates nothing once the thread has searched a graph of this size.
#[derive(Debug, Default)]
struct Scratch {
    visited: Visited,
    todo: BinaryHeap<Reverse<Near>>,
    best: BinaryHeap<Near>,
    fresh: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Graph parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) dim: usize,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
    pub(crate) metric: Metric,
}

/// The graph.
pub(crate) struct Graph {
    pub(crate) shape: Shape,
    kernel: Kernel,
    m0: usize,
    level_mult: f64,
    pub(crate) vectors: Vec<f32>,
    /// Per slot `1 + m0` words: count, then neighbours.
    links0: Vec<AtomicU32>,
    /// Per slot, levels 1..=level, each `1 + m` words.
    upper: Vec<Box<[AtomicU32]>>,
    pub(crate) levels: Vec<u8>,
    /// `level << 32 | slot` of the entry point, or [`NO_ENTRY`].
    entry: AtomicU64,
    /// Held while the entry point may change.
    entry_lock: Mutex<()>,
    stripes: Box<[Mutex<()>]>,
    rng: u64,
}

impl Clone for Graph {
    fn clone(&self) -> Self {
        Self {
            vectors: self.vectors.clone(),
            links0: atomics(plain(&self.links0)),
            upper: self
                .upper
                .iter()
                .map(|u| atomics(plain(u)).into_boxed_slice())
                .collect(),
            levels: self.levels.clone(),
            entry: AtomicU64::new(self.entry.load(Mem::Acquire)),
            rng: self.rng,
            ..Self::new(self.shape)
        }
    }
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("shape", &self.shape)
            .field("slots", &self.levels.len())
            .field("entry", &self.entry())
            .finish_non_exhaustive()
    }
}

impl Graph {
    pub(crate) fn new(shape: Shape) -> Self {
        let m = shape.m.max(2);
        Self {
            shape: Shape { m, ..shape },
            kernel: kernel(shape.metric),
            m0: 2 * m,
            level_mult: 1.0 / (m as f64).ln(),
            vectors: Vec::new(),
            links0: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
            entry: AtomicU64::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// The entry point.
    pub(crate) fn entry(&self) -> Option<u32> {
        self.entry_and_level().map(|(e, _)| e)
    }

    fn entry_and_level(&self) -> Option<(u32, u8)> {
        let v = self.entry.load(Mem::Acquire);
        (v != NO_ENTRY).then_some((v as u32, (v >> 32) as u8))
    }

    fn set_entry(&self, slot: u32, level: u8) {
        self.entry
            .store(u64::from(level) << 32 | u64::from(slot), Mem::Release);
    }

    fn lock(&self, slot: u32) -> MutexGuard<'_, ()> {
        self.stripes[slot as usize % LOCK_STRIPES]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Level-0 lists as plain words (for saving).
    pub(crate) fn links0_words(&self) -> Vec<u32> {
        plain(&self.links0)
    }

    /// Upper lists of every slot as plain words (for saving).
    pub(crate) fn upper_words(&self) -> impl Iterator<Item = Vec<u32>> + '_ {
        self.upper.iter().map(|u| plain(u))
    }

    /// Words per level-0 list.
    pub(crate) fn stride0(&self) -> usize {
        1 + self.m0
    }

    /// Words per upper-level list.
    pub(crate) fn stride_upper(&self) -> usize {
        1 + self.shape.m
    }

    pub(crate) fn slots(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn reserve(&mut self, more: usize) {
        self.vectors.reserve(more * self.shape.dim);
        self.links0.reserve(more * self.stride0());
        self.upper.reserve(more);
        self.levels.reserve(more);
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.vectors.shrink_to_fit();
        self.links0.shrink_to_fit();
        self.upper.shrink_to_fit();
        self.levels.shrink_to_fit();
    }

    #[inline]
    pub(crate) fn vector(&self, slot: u32) -> &[f32] {
        let d = self.shape.dim;
        &self.vectors[slot as usize * d..(slot as usize + 1) * d]
    }

    #[inline]
    pub(crate) fn distance(&self, q: &[f32], slot: u32) -> f32 {
        (self.kernel)(q, self.vector(slot))
    }

    /// The words of `slot`'s list at `level` (count, then room for the neighbours); empty
    /// above the slot's own level (a reused slot may still be named by lists of a level it no
    /// longer reaches).
    #[inline]
    fn list(&self, slot: u32, level: u8) -> &[AtomicU32] {
        let s = slot as usize;
        if level == 0 {
            return &self.links0[s * self.stride0()..(s + 1) * self.stride0()];
        }
        if level > self.levels[s] {
            return &[];
        }
        let st = self.stride_upper();
        let off = (level as usize - 1) * st;
        &self.upper[s][off..off + st]
    }

    /// Neighbours of `slot` at `level`.
    #[inline]
    pub(crate) fn links(&self, slot: u32, level: u8) -> impl Iterator<Item = u32> + '_ {
        let w = self.list(slot, level);
        let n = w.first().map_or(0, |c| c.load(Mem::Acquire) as usize);
        w.get(1..1 + n)
            .unwrap_or_default()
            .iter()
            .map(|x| x.load(Mem::Relaxed))
    }

    /// Rewrites a list; the caller holds the slot's stripe lock or has the graph to itself.
    fn set_links(&self, slot: u32, level: u8, list: &[u32]) {
        let w = self.list(slot, level);
        for (dst, &x) in w[1..].iter().zip(list) {
            dst.store(x, Mem::Relaxed);
        }
        w[0].store(list.len() as u32, Mem::Release);
    }

    /// Appends a slot holding `v` (not yet linked); its number.
    pub(crate) fn push(&mut self, v: &[f32]) -> u32 {
        let slot = self.levels.len() as u32;
        self.vectors.extend_from_slice(v);
        let st = self.stride0();
        self.links0.extend((0..st).map(|_| AtomicU32::new(0)));
        self.upper.push(Box::default());
        self.levels.push(0);
        slot
    }

    /// Gives `slot` a new vector and no links, ready for `link`.
    pub(crate) fn reset(&mut self, slot: u32, v: &[f32]) {
        let (s, d) = (slot as usize, self.shape.dim);
        self.vectors[s * d..(s + 1) * d].copy_from_slice(v);
        let st = self.stride0();
        for w in &self.links0[s * st..(s + 1) * st] {
            w.store(0, Mem::Relaxed);
        }
        self.upper[s] = Box::default();
        self.levels[s] = 0;
    }

    fn random_level(&mut self) -> u8 {
        // SplitMix64: deterministic per graph, no dependency.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let l = (-u.ln() * self.level_mult).floor();
        if l >= f64::from(MAX_LEVEL) {
            MAX_LEVEL
        } else {
            l as u8
        }
    }

    /// Draws `slot`'s level (pushed or reset) and makes room for its lists; then `link` it.
    pub(crate) fn assign_level(&mut self, slot: u32) {
        let level = self.random_level();
        self.levels[slot as usize] = level;
        self.upper[slot as usize] = (0..level as usize * self.stride_upper())
            .map(|_| AtomicU32::new(0))
            .collect();
    }

    /// Links every slot of `slots` (each given its level) on up to `threads` threads.
    pub(crate) fn link_all(&self, slots: &[u32], threads: usize) {
        let threads = threads.clamp(1, 64).min(slots.len() / 8).max(1);
        if threads == 1 {
            for &s in slots {
                self.link(s);
            }
            return;
        }
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(&s) = slots.get(next.fetch_add(1, Mem::Relaxed)) {
                        self.link(s);
                    }
                });
            }
        });
    }

    /// Links `slot` into the graph; other slots may be linked at the same time.
    fn link(&self, slot: u32) {
        let level = self.levels[slot as usize];
        // Held for the whole insertion only by a slot that will become the new top.
        let mut top_guard = Some(
            self.entry_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let Some((entry, top)) = self.entry_and_level().filter(|&(e, _)| e != slot) else {
            self.set_entry(slot, level);
            return;
        };
        if level <= top {
            top_guard = None;
        }
        let q = self.vector(slot).to_vec();
        let mut cur = Near(self.distance(&q, entry), entry);
        for l in (level.saturating_add(1)..=top).rev() {
            cur = self.greedy(&q, cur, l);
        }
        let mut eps = vec![cur];
        for l in (0..=level.min(top)).rev() {
            let found = self.search_layer(&q, &eps, self.shape.ef_construction, l, &|_| true);
            let cap = if l == 0 { self.m0 } else { self.shape.m };
            let chosen = self.select(&found, self.shape.m, Some(slot));
            let ids: Vec<u32> = chosen.iter().map(|n| n.1).collect();
            {
                let _own = self.lock(slot);
                self.set_links(slot, l, &ids);
            }
            for &n in &ids {
                self.add_link(n, slot, l, cap);
            }
            eps = found;
        }
        if level > top {
            self.set_entry(slot, level);
        }
        drop(top_guard);
    }

    /// Adds `to` to `from`'s list at `level`, shrinking it with the heuristic when full.
    fn add_link(&self, from: u32, to: u32, level: u8, cap: usize) {
        if level > self.levels[from as usize] {
            return;
        }
        let _list = self.lock(from);
        let current: Vec<u32> = self.links(from, level).collect();
        if current.contains(&to) {
            return;
        }
        if current.len() < cap {
            let mut list = current;
            list.push(to);
            self.set_links(from, level, &list);
            return;
        }
        let base = self.vector(from);
        let mut cands: Vec<Near> = current
            .iter()
            .chain(std::iter::once(&to))
            .map(|&n| Near((self.kernel)(base, self.vector(n)), n))
            .collect();
        cands.sort_unstable();
        let chosen: Vec<u32> = self
            .select(&cands, cap, Some(from))
            .iter()
            .map(|n| n.1)
            .collect();
        self.set_links(from, level, &chosen);
    }

    /// hnswlib's heuristic: walking candidates from the closest, keep one only if it is closer
    /// to the base than to every one already kept. `found` is sorted ascending.
    fn select(&self, found: &[Near], m: usize, skip: Option<u32>) -> Vec<Near> {
        let mut kept: Vec<Near> = Vec::with_capacity(m);
        for &c in found {
            if Some(c.1) == skip {
                continue;
            }
            if kept.len() >= m {
                break;
            }
            let v = self.vector(c.1);
            if kept
                .iter()
                .all(|k| (self.kernel)(v, self.vector(k.1)) > c.0)
            {
                kept.push(c);
            }
        }
        kept
    }

    fn greedy(&self, q: &[f32], mut cur: Near, level: u8) -> Near {
        loop {
            let mut moved = false;
            for n in self.links(cur.1, level) {
                let d = self.distance(q, n);
                if d < cur.0 {
                    cur = Near(d, n);
                    moved = true;
                }
            }
            if !moved {
                return cur;
            }
        }
    }

    /// Best-first search of one level from `eps`; at most `ef` accepted slots, ascending.
    /// Rejected slots still route but never enter the answer.
    pub(crate) fn search_layer<F: Fn(u32) -> bool>(
        &self,
        q: &[f32],
        eps: &[Near],
        ef: usize,
        level: u8,
        accept: &F,
    ) -> Vec<Near> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                visited,
                todo,
                best,
                fresh,
            } = &mut *scratch;
            visited.start(self.slots());
            todo.clear();
            best.clear();
            for &e in eps {
                if visited.insert(e.1) {
                    todo.push(Reverse(e));
                    if accept(e.1) {
                        best.push(e);
                    }
                }
            }
            while best.len() > ef {
                best.pop();
            }
            while let Some(Reverse(c)) = todo.pop() {
                if best.len() >= ef && best.peek().is_some_and(|w| c.0 > w.0) {
                    break;
                }
                // The next candidate's list, most likely read next, starts loading now.
                if let Some(Reverse(next)) = todo.peek() {
                    prefetch_list(self.list(next.1, level));
                }
                // Unvisited neighbours first, their vectors requested together, then scored.
                fresh.clear();
                for n in self.links(c.1, level) {
                    if visited.insert(n) {
                        prefetch(self.vector(n));
                        fresh.push(n);
                    }
                }
                for &n in fresh.iter() {
                    let d = self.distance(q, n);
                    let full = best.len() >= ef;
                    if !full || best.peek().is_some_and(|w| d < w.0) {
                        todo.push(Reverse(Near(d, n)));
                        if accept(n) {
                            best.push(Near(d, n));
                            if best.len() > ef {
                                best.pop();
                            }
                        }
                    }
                }
            }
            let mut out: Vec<Near> = best.drain().collect();
            out.sort_unstable();
            out
        })
    }

    /// The `ef` best accepted slots for `q` (ascending), from the top level down.
    pub(crate) fn search<F: Fn(u32) -> bool>(&self, q: &[f32], ef: usize, accept: &F) -> Vec<Near> {
        let Some((entry, top)) = self.entry_and_level() else {
            return Vec::new();
        };
        let mut cur = Near(self.distance(q, entry), entry);
        for l in (1..=top).rev() {
            cur = self.greedy(q, cur, l);
        }
        self.search_layer(q, &[cur], ef.max(1), 0, accept)
    }

    /// Every accepted slot scored, the `k` best ascending.
    pub(crate) fn exact<F: Fn(u32) -> bool>(&self, q: &[f32], k: usize, accept: &F) -> Vec<Near> {
        let mut best: BinaryHeap<Near> = BinaryHeap::with_capacity(k + 1);
        if k == 0 {
            return Vec::new();
        }
        for slot in 0..self.slots() as u32 {
            if !accept(slot) {
                continue;
            }
            let d = self.distance(q, slot);
            if best.len() < k {
                best.push(Near(d, slot));
            } else if best.peek().is_some_and(|w| d < w.0) {
                best.pop();
                best.push(Near(d, slot));
            }
        }
        best.into_sorted_vec()
    }

    /// Checks what a decoded graph could break: list lengths and neighbour numbers in range.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let n = self.slots();
        if self.vectors.len() != n * self.shape.dim || self.links0.len() != n * self.stride0() {
            return Err("section sizes disagree with the slot count".into());
        }
        if let Some((e, l)) = self.entry_and_level()
            && (e as usize >= n || self.levels[e as usize] != l)
        {
            return Err("entry point out of range".into());
        }
        for s in 0..n {
            let level = self.levels[s];
            if level > MAX_LEVEL || self.upper[s].len() != level as usize * self.stride_upper() {
                return Err(format!("slot {s}: bad level data"));
            }
            for l in 0..=level {
                let w = self.list(s as u32, l);
                let count = w[0].load(Mem::Relaxed) as usize;
                if count >= w.len() || self.links(s as u32, l).any(|x| x as usize >= n) {
                    return Err(format!("slot {s} level {l}: bad neighbour list"));
                }
            }
        }
        Ok(())
    }

    /// Reassembles a graph from decoded parts (then `validate`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        shape: Shape,
        vectors: Vec<f32>,
        links0: Vec<u32>,
        upper: Vec<Vec<u32>>,
        levels: Vec<u8>,
        entry: Option<u32>,
        rng: u64,
    ) -> Result<Self, String> {
        let mut g = Self::new(shape);
        if g.shape.m != shape.m {
            return Err("m must be at least 2".into());
        }
        if upper.len() != levels.len() || entry.is_some_and(|e| e as usize >= levels.len()) {
            return Err("section sizes disagree with the slot count".into());
        }
        g.vectors = vectors;
        g.links0 = atomics(links0);
        g.upper = upper
            .into_iter()
            .map(|u| atomics(u).into_boxed_slice())
            .collect();
        if let Some(e) = entry {
            g.set_entry(e, levels[e as usize]);
        }
        g.levels = levels;
        g.rng = rng;
        g.validate()?;
        Ok(g)
    }

    pub(crate) fn rng_state(&self) -> u64 {
        self.rng
    }
}
