//! Keyword and hybrid searches over an index with a text field: BM25 alone, or BM25 and the
//! vector walk fused by reciprocal rank, each list found under the same filter and
//! exclusions (applied inside both, so neither is cut short by them).

use crate::core::{Core, Hit, Query, matches};
use crate::distance::reported;
use crate::text::fuse;

/// How a hybrid search weighs its two rankings: item score = `vector_weight / (k + rank in
/// the vector list) + text_weight / (k + rank in the keyword list)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    /// The rank constant (60 in the original paper and most engines).
    pub k: f32,
    /// Weight of the vector ranking.
    pub vector_weight: f32,
    /// Weight of the keyword ranking.
    pub text_weight: f32,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            k: 60.0,
            vector_weight: 1.0,
            text_weight: 1.0,
        }
    }
}

impl Fusion {
    /// Why these weights cannot rank, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(self.k.is_finite() && self.k >= 0.0) {
            return Err(format!("fusion k must be a number ≥ 0, not {}", self.k));
        }
        for (name, w) in [
            ("vector_weight", self.vector_weight),
            ("text_weight", self.text_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("fusion {name} must be a number ≥ 0, not {w}"));
            }
        }
        if self.vector_weight + self.text_weight == 0.0 {
            return Err("fusion weights are both 0".into());
        }
        Ok(())
    }
}

/// Each list of a hybrid search reaches this many candidates (at least `k`) before fusing.
pub const FUSION_DEPTH: usize = 100;

impl Core {
    fn accepts(&self, q: &Query<'_>, slot: u32) -> bool {
        if !self.live[slot as usize] {
            return false;
        }
        let Some(id) = &self.ids[slot as usize] else {
            return false;
        };
        !q.exclude.is_some_and(|x| x.contains(id))
            && q.filter
                .is_none_or(|f| matches(self.meta[slot as usize].as_ref(), f))
    }

    fn hit(&self, slot: u32, distance: f32, score: Option<f32>) -> Option<Hit> {
        Some(Hit {
            id: self.ids[slot as usize].clone()?,
            distance,
            metadata: self.meta[slot as usize].clone().unwrap_or_default(),
            score,
        })
    }

    /// BM25 alone; hits carry `score` and no distance (NaN).
    pub(crate) fn search_text(&self, text: &str, q: &Query<'_>) -> Result<Vec<Hit>, String> {
        let ix = self.text.as_ref().ok_or(NO_TEXT_FIELD)?;
        let found = ix.search(text, q.k, &|s| self.accepts(q, s));
        Ok(found
            .into_iter()
            .filter_map(|(slot, score)| self.hit(slot, f32::NAN, Some(score)))
            .collect())
    }

    /// Both rankings fused; hits carry the fused `score` and their distance to the vector.
    pub(crate) fn search_hybrid(&self, text: &str, q: &Query<'_>) -> Result<Vec<Hit>, String> {
        let ix = self.text.as_ref().ok_or(NO_TEXT_FIELD)?;
        let fusion = q.fusion.unwrap_or_default();
        fusion.check()?;
        let depth = q.k.clamp(FUSION_DEPTH, crate::params::MAX_K);
        let vq = Query {
            k: depth,
            ef: Some(q.ef.unwrap_or(self.params.ef_search).max(depth)),
            text: None,
            ..q.clone()
        };
        let vector: Vec<(u32, f32)> = self.search_slots(&vq)?;
        let keyword = ix.search(text, depth, &|s| self.accepts(q, s));
        let v_slots: Vec<u32> = vector.iter().map(|x| x.0).collect();
        let t_slots: Vec<u32> = keyword.iter().map(|x| x.0).collect();
        let fused = fuse(
            &[
                (&v_slots[..], fusion.vector_weight),
                (&t_slots[..], fusion.text_weight),
            ],
            fusion.k,
        );
        let v = crate::core::prepare(&self.params, q.vector)?;
        Ok(fused
            .into_iter()
            .take(q.k)
            .filter_map(|(slot, score)| {
                let d = vector.iter().find(|x| x.0 == slot).map_or_else(
                    || reported(self.params.distance, self.graph.distance(&v, slot)),
                    |x| x.1,
                );
                self.hit(slot, d, Some(score))
            })
            .collect())
    }
}

/// The error of a keyword search on an index without a text field.
pub const NO_TEXT_FIELD: &str =
    "the index has no text field (name one with text_field when creating it)";
