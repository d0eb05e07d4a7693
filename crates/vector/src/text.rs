//! Keyword search over one metadata field: an inverted index kept current with every write and
//! scored with Okapi BM25 (k1 = 1.2, b = 0.75), and reciprocal rank fusion of its ranking
//! with the vector ranking. The index is derived from the items' metadata, so it is rebuilt
//! when an index is decoded, never stored.
//!
//! Tokens are the lower-cased runs of letters and digits (Unicode-aware), without stemming and
//! without the 33 English stop words of Lucene's classic analyzer: a query's "a" or "the"
//! would otherwise match nearly every record, and in a fused ranking such weak matches push
//! out what the vector found (measured on the labelled set of tests/tests/models.rs).

use std::collections::HashMap;

use serde_json::Value;

use crate::core::Metadata;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Words too common to rank by (Lucene's `EnglishAnalyzer` default set).
pub const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
}

/// The field's text in `meta`: a string, or the strings of a list joined by spaces.
fn field_text(meta: Option<&Metadata>, field: &str) -> Option<String> {
    match meta?.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// The inverted index of one metadata field over an index's slots.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextIndex {
    field: String,
    terms: HashMap<String, u32>,
    /// Per term: slot → occurrences.
    postings: Vec<HashMap<u32, u32>>,
    /// Per slot holding text: its distinct terms and its length in tokens.
    docs: HashMap<u32, (Vec<u32>, u32)>,
    total_len: u64,
}

impl TextIndex {
    pub(crate) fn new(field: &str) -> Self {
        Self {
            field: field.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn field(&self) -> &str {
        &self.field
    }

    /// An empty index of the same field.
    pub(crate) fn emptied(&self) -> Self {
        Self::new(&self.field)
    }

    /// Indexes `slot` as holding `meta` (replacing what it held).
    pub(crate) fn set(&mut self, slot: u32, meta: Option<&Metadata>) {
        self.remove(slot);
        let Some(text) = field_text(meta, &self.field) else {
            return;
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut len = 0u32;
        for t in tokens(&text) {
            let next = self.terms.len() as u32;
            let id = *self.terms.entry(t).or_insert(next);
            if id as usize == self.postings.len() {
                self.postings.push(HashMap::new());
            }
            *counts.entry(id).or_default() += 1;
            len += 1;
        }
        if len == 0 {
            return;
        }
        for (&term, &n) in &counts {
            self.postings[term as usize].insert(slot, n);
        }
        self.total_len += u64::from(len);
        self.docs.insert(slot, (counts.into_keys().collect(), len));
    }

    /// Forgets `slot`.
    pub(crate) fn remove(&mut self, slot: u32) {
        if let Some((terms, len)) = self.docs.remove(&slot) {
            for t in terms {
                self.postings[t as usize].remove(&slot);
            }
            self.total_len -= u64::from(len);
        }
    }

    /// The `k` best slots for `query` by BM25 among those `accept` lets through, best first;
    /// slots with no query term are never returned.
    pub(crate) fn search(
        &self,
        query: &str,
        k: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let n = self.docs.len() as f32;
        if n == 0.0 || k == 0 {
            return Vec::new();
        }
        let avg = self.total_len as f32 / n;
        let mut query_terms: Vec<u32> = tokens(query)
            .filter_map(|t| self.terms.get(&t).copied())
            .collect();
        query_terms.sort_unstable();
        query_terms.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for t in query_terms {
            let posting = &self.postings[t as usize];
            let df = posting.len() as f32;
            if df == 0.0 {
                continue;
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for (&slot, &tf) in posting {
                let len = self.docs.get(&slot).map_or(avg, |d| d.1 as f32);
                let tf = tf as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                *scores.entry(slot).or_default() += s;
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().filter(|&(s, _)| accept(s)).collect();
        // Best first; equal scores in slot order, so answers are reproducible.
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

/// Reciprocal rank fusion: each list gives an item `weight / (k + rank)` (rank from 1); the
/// items by their summed score, best first (ties in order of first appearance).
pub fn fuse<T: Eq + std::hash::Hash + Clone>(lists: &[(&[T], f32)], k: f32) -> Vec<(T, f32)> {
    let mut score: HashMap<T, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for (list, weight) in lists {
        for (rank, item) in list.iter().enumerate() {
            let e = score.entry(item.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            e.0 += weight / (k + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(T, f32, usize)> = score.into_iter().map(|(t, (s, o))| (t, s, o)).collect();
    out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(t, s, _)| (t, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(text: &str) -> Metadata {
        json!({ "text": text }).as_object().unwrap().clone()
    }

    #[test]
    fn tokens_are_lowercased_alphanumeric_runs() {
        let t: Vec<String> = tokens("Order #1182 FAILED: the card-declined, Ünïcode ok").collect();
        assert_eq!(
            t,
            [
                "order",
                "1182",
                "failed",
                "card",
                "declined",
                "ünïcode",
                "ok"
            ]
        );
    }

    #[test]
    fn bm25_ranks_by_rare_terms_and_follows_every_write() {
        let mut ix = TextIndex::new("text");
        ix.set(0, Some(&meta("the order shipped on time")));
        ix.set(1, Some(&meta("the order failed: card declined")));
        ix.set(2, Some(&meta("the the the the the")));
        assert!(!ix.docs.contains_key(&2), "stop words alone index nothing");
        ix.set(3, None);
        let all = |_: u32| true;
        let hits = ix.search("why did the card fail declined", 10, &all);
        assert_eq!(hits[0].0, 1, "{hits:?}");
        assert!(hits.iter().all(|h| h.1 > 0.0));
        // A slot the caller refuses is skipped; one with no query term never appears.
        let hits = ix.search("card", 10, &|s| s != 1);
        assert!(hits.is_empty(), "{hits:?}");
        assert!(ix.search("zebra", 10, &all).is_empty());
        // Replacing and removing change what is found.
        ix.set(1, Some(&meta("refund issued")));
        assert!(ix.search("card", 10, &all).is_empty());
        assert_eq!(ix.search("refund", 10, &all)[0].0, 1);
        ix.remove(1);
        assert!(ix.search("refund", 10, &all).is_empty());
        assert_eq!(ix.docs.len(), 1);
        assert_eq!(ix.total_len, 3);
        // Lists of strings count as text too.
        let list = json!({"text": ["late", "parcel"]})
            .as_object()
            .unwrap()
            .clone();
        ix.set(5, Some(&list));
        assert_eq!(ix.search("parcel", 1, &all)[0].0, 5);
    }

    #[test]
    fn longer_documents_score_lower_for_the_same_term() {
        let mut ix = TextIndex::new("text");
        ix.set(0, Some(&meta("refund")));
        ix.set(
            1,
            Some(&meta(
                "refund for the order placed last week by the customer",
            )),
        );
        ix.set(2, Some(&meta("unrelated words here")));
        let hits = ix.search("refund", 2, &|_| true);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 1]);
        assert!(hits[0].1 > hits[1].1);
    }

    #[test]
    fn fusion_rewards_items_both_lists_rank_well() {
        let vector = ["a", "b", "c"];
        let text = ["c", "d", "a"];
        let fused = fuse(&[(&vector[..], 1.0), (&text[..], 1.0)], 60.0);
        let order: Vec<&str> = fused.iter().map(|f| f.0).collect();
        assert_eq!(order, ["a", "c", "b", "d"]);
        let a = 1.0 / 61.0 + 1.0 / 63.0;
        assert!((fused[0].1 - a).abs() < 1e-6);
        // A weight of zero leaves that list out of the score.
        let only_text = fuse(&[(&vector[..], 0.0), (&text[..], 1.0)], 60.0);
        assert_eq!(only_text[0].0, "c");
    }
}
