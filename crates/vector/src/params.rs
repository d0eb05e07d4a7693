//! Index parameters and their limits.

use serde::{Deserialize, Serialize};

use crate::distance::Metric;

/// Largest dimension accepted.
pub const MAX_DIMENSION: usize = 4096;
/// Largest `k` a search answers.
pub const MAX_K: usize = 1000;
/// Largest candidate list (`ef_construction`, `ef_search`, a search's `ef`).
pub const MAX_EF: usize = 4096;

/// How an index is built and searched.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Vector length, 1..=4096.
    pub dimension: usize,
    /// Neighbours per node on upper levels (twice this on level 0), 2..=100.
    pub m: usize,
    /// Candidate list size while inserting, 1..=4096.
    pub ef_construction: usize,
    /// Default candidate list size while searching, 1..=4096.
    pub ef_search: usize,
    /// Distance.
    pub distance: Metric,
}

impl Params {
    /// Defaults for `dimension`: M=16, ef_construction=200, ef_search=64, cosine.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension,
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            distance: Metric::Cosine,
        }
    }

    /// Why these parameters cannot make an index, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_DIMENSION).contains(&self.dimension) {
            return Err(format!(
                "dimension must be 1..={MAX_DIMENSION}, not {}",
                self.dimension
            ));
        }
        if !(2..=100).contains(&self.m) {
            return Err(format!("m must be 2..=100, not {}", self.m));
        }
        for (name, v) in [
            ("ef_construction", self.ef_construction),
            ("ef_search", self.ef_search),
        ] {
            if !(1..=MAX_EF).contains(&v) {
                return Err(format!("{name} must be 1..={MAX_EF}, not {v}"));
            }
        }
        Ok(())
    }
}
