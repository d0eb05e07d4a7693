//! The records the catalog writes: commits and checkpoints. Each carries a format number;
//! a reader refuses a format newer than it knows instead of misreading it.

use lakehouse_types::{ChangeOp, Column, CommitInfo, DataObject, IndexCommitInfo};
use serde::{Deserialize, Serialize};

/// The format this build writes and the newest it reads.
pub const FORMAT: u32 = 1;

/// One commit: `_catalog/log/<version>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The catalog version it made.
    pub version: u64,
    /// RFC 3339 UTC; never earlier than the commit before.
    pub time: String,
    /// The request that made it.
    pub request_id: String,
    /// What changed.
    pub changes: Vec<ChangeRecord>,
    /// The epoch of the catalog lease it was made under (absent: no lease, or written
    /// before leases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_epoch: Option<u64>,
}

/// One change of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeRecord {
    /// A dataset got a new snapshot.
    Dataset {
        /// The dataset.
        name: String,
        /// The snapshot.
        snapshot: SnapRecord,
    },
    /// A vector index's state was recorded.
    Index {
        /// The commit (its `version` is the commit's).
        commit: IndexCommitInfo,
    },
}

/// One index's retained commits in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLineageRecord {
    /// The index.
    pub name: String,
    /// Retained commits, oldest first.
    pub commits: Vec<IndexCommitInfo>,
    /// The newest commit retention dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_through: Option<u64>,
    /// The first commit the index ever had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_version: Option<u64>,
}

/// An immutable snapshot of one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapRecord {
    /// The catalog version that made it.
    pub version: u64,
    /// The snapshot it followed (the dataset's current one then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u64>,
    /// What made it.
    pub op: ChangeOp,
    /// RFC 3339 UTC.
    pub time: String,
    /// For a rollback: the version whose state it copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
    /// The dataset's content; `None` after a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyRecord>,
}

/// A dataset's content in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRecord {
    /// Schema fingerprint.
    pub schema_fingerprint: String,
    /// Columns.
    pub schema: Vec<Column>,
    /// Rows.
    pub row_count: u64,
    /// The dataset's own change counter (the manifest's `version`).
    pub seq: u64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The objects, whole or as what was added to the parent's.
    #[serde(flatten)]
    pub objects: Objects,
}

/// A snapshot's objects. Appends record only what they added, so a long history of appends
/// costs what was appended, not the square of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objects {
    /// Every object.
    #[serde(rename = "objects")]
    Full(Vec<DataObject>),
    /// The parent's objects and then these.
    #[serde(rename = "added")]
    Added(Vec<DataObject>),
}

/// One dataset's retained history in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageRecord {
    /// The dataset.
    pub name: String,
    /// Retained snapshots, oldest first; the first holds its objects whole.
    pub snapshots: Vec<SnapRecord>,
    /// The newest snapshot retention dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_through: Option<u64>,
    /// The first snapshot the name ever had: versions from it on read as expired, not absent,
    /// once retention dropped them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_version: Option<u64>,
}

/// The whole catalog at one version: `_catalog/checkpoints/<version>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The catalog version it holds.
    pub version: u64,
    /// The last commit's time, in milliseconds (commit times never go backwards).
    pub last_time_ms: i64,
    /// Every dataset name with history.
    pub datasets: Vec<LineageRecord>,
    /// Every vector index with commits.
    #[serde(default)]
    pub indexes: Vec<IndexLineageRecord>,
    /// The retained commit log, oldest first.
    pub log: Vec<CommitInfo>,
    /// Commits up to this version are no longer listed.
    #[serde(default)]
    pub log_floor: u64,
}

/// Why a record of `format` cannot be read by this build.
pub fn format_error(format: u32) -> Option<String> {
    (format == 0 || format > FORMAT).then(|| {
        format!("format {format} is not one this build reads (1 to {FORMAT}); upgrade catalogd")
    })
}
