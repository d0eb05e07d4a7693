//! The repeat cache: a search asked again of the same index state (same vector, text,
//! fusion, k, ef, filter and exclusions) is answered from memory instead of walking the graph again.
//!
//! Answers are keyed by the state they were read from: a live index by its instance and
//! generation (any write bumps it, so a write makes every earlier answer unreachable), a
//! committed state by its stored key (never rewritten). An answer is kept only when the
//! generation did not move while it was computed, so it never mixes two states.

use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use lakehouse_vector::{Hit, Query};
use lru::LruCache;

/// Which index state an answer was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StateId {
    /// A loaded index: its instance (names are reused after a delete) and generation.
    Live {
        /// [`crate::registry::Entry`]'s instance number.
        instance: u64,
        /// Its generation when the search began.
        generation: u64,
    },
    /// A committed state, by its stored key.
    Stored(String),
}

/// Everything that decides a search's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    state: StateId,
    /// The query's bits: equal keys mean the very same floats (`-0.0` and `0.0` differ,
    /// which only costs a miss).
    vector: Vec<u32>,
    k: usize,
    ef: Option<usize>,
    /// The filter as JSON text (a filter written in another key order only misses).
    filter: Option<String>,
    /// The excluded ids, sorted.
    exclude: Vec<String>,
    /// Keywords, and the fusion's `(k, vector weight, text weight)` bits.
    text: Option<String>,
    fusion: Option<[u32; 3]>,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.state.hash(h);
        self.vector.hash(h);
        (self.k, self.ef, &self.filter, &self.exclude).hash(h);
        (&self.text, self.fusion).hash(h);
    }
}

/// A remembered answer and the write sequence of the state it came from.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The state's write sequence (the as-of path checks it against the commit it resolved).
    pub sequence: u64,
    /// The hits, nearest first.
    pub hits: Arc<Vec<Hit>>,
}

/// A bounded cache of answers, least recently used out first; capacity 0 turns it off.
#[derive(Debug)]
pub struct SearchCache {
    entries: Option<Mutex<LruCache<Key, Cached>>>,
    /// Searches answered from the cache.
    pub hits: AtomicU64,
    /// Searches that were not (counted only while the cache is on).
    pub misses: AtomicU64,
}

impl SearchCache {
    /// A cache of at most `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|n| Mutex::new(LruCache::new(n))),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of a search, or `None` while the cache is off (so nothing is copied).
    pub fn key(&self, state: StateId, q: &Query<'_>) -> Option<Key> {
        self.entries.as_ref()?;
        let mut exclude: Vec<String> = q.exclude.into_iter().flatten().cloned().collect();
        exclude.sort_unstable();
        Some(Key {
            state,
            vector: q.vector.iter().map(|x| x.to_bits()).collect(),
            k: q.k,
            ef: q.ef,
            filter: q
                .filter
                .map(|f| serde_json::Value::Object(f.clone()).to_string()),
            exclude,
            text: q.text.map(str::to_owned),
            fusion: q.fusion.map(|f| {
                [
                    f.k.to_bits(),
                    f.vector_weight.to_bits(),
                    f.text_weight.to_bits(),
                ]
            }),
        })
    }

    /// The answer remembered for `key`, counting a hit or a miss.
    pub fn get(&self, key: &Key) -> Option<Cached> {
        let found = self.lock()?.get(key).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers an answer.
    pub fn put(&self, key: Key, sequence: u64, hits: &[Hit]) {
        if let Some(mut m) = self.lock() {
            m.put(
                key,
                Cached {
                    sequence,
                    hits: Arc::new(hits.to_vec()),
                },
            );
        }
    }

    /// Answers held now.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |m| m.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, LruCache<Key, Cached>>> {
        self.entries
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakehouse_vector::{Fusion, Metadata};

    fn hit(id: &str) -> Hit {
        Hit {
            id: id.into(),
            distance: 0.5,
            metadata: Metadata::new(),
            score: None,
        }
    }

    fn q<'a>(vector: &'a [f32], k: usize) -> Query<'a> {
        Query {
            vector,
            k,
            ..Query::default()
        }
    }

    fn live(generation: u64) -> StateId {
        StateId::Live {
            instance: 1,
            generation,
        }
    }

    #[test]
    fn an_answer_is_found_only_under_everything_that_decided_it() {
        let c = SearchCache::new(16);
        let key = |s, v: &[f32], k| c.key(s, &q(v, k)).unwrap();
        c.put(key(live(3), &[1.0, 2.0], 5), 7, &[hit("a")]);
        let got = c.get(&key(live(3), &[1.0, 2.0], 5)).unwrap();
        assert_eq!((got.sequence, got.hits[0].id.as_str()), (7, "a"));
        assert!(
            c.get(&key(live(4), &[1.0, 2.0], 5)).is_none(),
            "a later generation"
        );
        assert!(
            c.get(&key(live(3), &[1.0, 2.5], 5)).is_none(),
            "another vector"
        );
        assert!(c.get(&key(live(3), &[1.0, 2.0], 6)).is_none(), "another k");
        let stored = key(StateId::Stored("k1".into()), &[1.0, 2.0], 5);
        assert!(c.get(&stored).is_none(), "another state");
        assert_eq!(c.hits.load(Ordering::Relaxed), 1);
        assert_eq!(c.misses.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn exclusions_match_in_any_order_and_filters_count() {
        let c = SearchCache::new(16);
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        let (ab, ba): (std::collections::HashSet<_>, _) = (set(&["a", "b"]), set(&["b", "a"]));
        let mut filter = Metadata::new();
        filter.insert("kind".into(), "x".into());
        let full = |exclude, filter, ef, text, fusion| Query {
            exclude,
            filter,
            ef: Some(ef),
            text,
            fusion,
            ..q(&[1.0], 3)
        };
        let k1 = c.key(live(1), &full(Some(&ab), Some(&filter), 8, None, None));
        c.put(k1.unwrap(), 0, &[hit("z")]);
        let k2 = c.key(live(1), &full(Some(&ba), Some(&filter), 8, None, None));
        assert!(c.get(&k2.unwrap()).is_some());
        let unfiltered = c.key(live(1), &full(Some(&ab), None, 8, None, None));
        assert!(c.get(&unfiltered.unwrap()).is_none());
        let other_ef = c.key(live(1), &full(Some(&ab), Some(&filter), 9, None, None));
        assert!(c.get(&other_ef.unwrap()).is_none());
        let texted = c.key(
            live(1),
            &full(Some(&ab), Some(&filter), 8, Some("late"), None),
        );
        assert!(c.get(&texted.unwrap()).is_none());
        let fused = full(
            Some(&ab),
            Some(&filter),
            8,
            Some("late"),
            Some(Fusion::default()),
        );
        assert!(c.get(&c.key(live(1), &fused).unwrap()).is_none());
    }

    #[test]
    fn the_least_recently_used_answer_goes_first_and_zero_turns_it_off() {
        let c = SearchCache::new(2);
        let key = |x: f32| c.key(live(1), &q(&[x], 1)).unwrap();
        c.put(key(1.0), 0, &[hit("1")]);
        c.put(key(2.0), 0, &[hit("2")]);
        assert!(c.get(&key(1.0)).is_some());
        c.put(key(3.0), 0, &[hit("3")]);
        assert_eq!(c.len(), 2);
        assert!(c.get(&key(2.0)).is_none(), "2 was least recently used");
        assert!(c.get(&key(1.0)).is_some());
        let off = SearchCache::new(0);
        assert!(off.key(live(1), &q(&[1.0], 1)).is_none());
        assert!(off.is_empty());
    }
}
