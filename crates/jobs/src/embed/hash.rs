//! The built-in embedder: signed feature hashing of lower-cased word unigrams and bigrams,
//! L2-normalised. Deterministic across runs, machines and versions (FNV-1a, fixed seeds), and
//! offline. Lexical, not semantic: "dog" and "puppy" share nothing.

use super::{EmbedError, Embedder, Purpose, normalize};

/// Feature hashing into `dimension` buckets.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dimension: usize,
}

/// Bigrams count half as much as words: they sharpen matches without swamping them.
const BIGRAM_WEIGHT: f32 = 0.5;

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl HashEmbedder {
    /// An embedder of `dimension` (> 0) buckets.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension: dimension.max(1),
        }
    }

    /// The vector of one text. A text without words gets a fixed marker vector, so every
    /// vector is valid under cosine distance.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut v = vec![0f32; self.dimension];
        let mut add = |h: u64, w: f32| {
            let bucket = (h % self.dimension as u64) as usize;
            // The sign bit comes from high bits, independent of the bucket: collisions cancel
            // on average instead of piling up.
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * w;
        };
        for w in &words {
            add(fnv1a(&[w]), 1.0);
        }
        for pair in words.windows(2) {
            add(fnv1a(&[&pair[0], &pair[1]]), BIGRAM_WEIGHT);
        }
        if !normalize(&mut v) {
            v.iter_mut().for_each(|x| *x = 0.0);
            v[0] = 1.0;
        }
        v
    }
}

#[async_trait::async_trait]
impl Embedder for HashEmbedder {
    fn provider(&self) -> &'static str {
        "hash"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String], _: Purpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let e = HashEmbedder::new(384);
        let a = e.vector("The quick brown fox");
        assert_eq!(a.len(), 384);
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a, e.vector("the QUICK, brown   fox!"));
        // A fixed value pins the hash across releases: stored vectors stay comparable.
        let nonzero: Vec<usize> = (0..384).filter(|&i| a[i] != 0.0).collect();
        assert_eq!(nonzero.len(), 7, "4 words + 3 bigrams, no collisions");
    }

    #[test]
    fn shared_words_rank_closer() {
        let e = HashEmbedder::new(384);
        let q = e.vector("refund for a late delivery");
        let near = e.vector("customer asks for a refund after late delivery");
        let far = e.vector("quarterly tax filing deadline");
        assert!(cos(&q, &near) > cos(&q, &far) + 0.2);
    }

    #[test]
    fn empty_text_still_gets_a_valid_vector() {
        let e = HashEmbedder::new(8);
        let v = e.vector("  ... ");
        assert_eq!(v, vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
