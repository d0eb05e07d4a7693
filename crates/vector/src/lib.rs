//! HNSW vector indexes with string ids and JSON metadata, upserts, deletes with slot reuse and
//! background compaction, exact search for small indexes, filters and exclusions applied
//! during the search, and a byte-level, checksummed serialisation. No HTTP here: vectord
//! wraps it.
//!
//! Layout: [`distance`] holds the kernels; `graph` the HNSW structure over numbered slots;
//! `core` ids, metadata and tombstones over it; [`text`] the BM25 keyword index over a
//! metadata field and rank fusion, `hybrid` the searches that use them; [`index`] the shareable, compacting index;
//! [`codec`] the `.lhv1` format.

pub mod codec;
mod core;
pub mod distance;
mod graph;
mod hybrid;
pub mod index;
pub mod params;
pub mod text;

pub use crate::core::{
    EXACT_BELOW, Hit, Item, ItemError, MAX_ID_BYTES, MAX_METADATA_DEPTH, Metadata, Query,
    metadata_depth,
};
pub use crate::distance::Metric;
pub use crate::hybrid::{FUSION_DEPTH, Fusion, NO_TEXT_FIELD};
pub use crate::index::{APPLY_CHUNK, Index, MergePlan, MergeReport, Stats};
pub use crate::params::{MAX_DIMENSION, MAX_EF, MAX_K, Params};
