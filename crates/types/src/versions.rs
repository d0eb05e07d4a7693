//! Catalog versions on the wire: the commit log, dataset history, rollback, garbage
//! collection, and the `as_of` a query or search reads at.

use serde::{Deserialize, Serialize};

/// What a read is pinned to: a catalog version, or the newest version at or before a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AsOf {
    /// A catalog version.
    Version(u64),
    /// An RFC 3339 time.
    Time(String),
}

impl AsOf {
    /// The query string that asks catalogd for this point (`version=…` or `at=…`).
    pub fn query(&self) -> (&'static str, String) {
        match self {
            Self::Version(v) => ("version", v.to_string()),
            Self::Time(t) => ("at", t.clone()),
        }
    }
}

/// What a commit did to one thing the catalog records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A new dataset.
    Create,
    /// A register with other objects.
    Replace,
    /// Objects added.
    Append,
    /// The dataset removed (its snapshots stay until retention expires them).
    Delete,
    /// The dataset made what it was at an earlier version.
    Rollback,
    /// Brought in from the catalog layout before versions.
    Import,
    /// A vector index's state recorded under a catalog version.
    Commit,
}

/// What a change is to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A dataset.
    #[default]
    Dataset,
    /// A vector index.
    Index,
}

/// One change of a commit, as the log lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeSummary {
    /// A dataset or an index.
    #[serde(default)]
    pub kind: ChangeKind,
    /// Its name.
    pub name: String,
    /// What happened.
    pub op: ChangeOp,
    /// Rows in the dataset (items in the index) after the change; 0 after a delete.
    pub row_count: u64,
    /// Objects in the dataset after the change (0 for an index).
    pub object_count: u64,
    /// For a rollback: the version it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommitInfo {
    /// The catalog version it made.
    pub version: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// The request that made it.
    pub request_id: String,
    /// What changed.
    pub changes: Vec<ChangeSummary>,
}

/// `GET /catalog/log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommitLog {
    /// Commits after `after`, oldest first.
    pub commits: Vec<CommitInfo>,
    /// Pass as `after` for the next page; present when more commits exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
    /// The current catalog version.
    pub version: u64,
}

/// One snapshot of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SnapshotInfo {
    /// The catalog version that made it (the snapshot's id).
    pub version: u64,
    /// The snapshot it followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u64>,
    /// What made it.
    pub op: ChangeOp,
    /// RFC 3339 UTC.
    pub time: String,
    /// False for a delete: the dataset did not exist from here on.
    pub exists: bool,
    /// Rows.
    pub row_count: u64,
    /// Objects.
    pub object_count: u64,
    /// Schema fingerprint (empty after a delete).
    pub schema_fingerprint: String,
    /// For a rollback: the version it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

/// `GET /catalog/manifest/{name}/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct History {
    /// The dataset.
    pub name: String,
    /// Retained snapshots, newest first.
    pub snapshots: Vec<SnapshotInfo>,
    /// The newest snapshot retention dropped, if any: versions up to it read as expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_through: Option<u64>,
}

/// `POST /catalog/manifest/{name}/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The catalog version whose state of the dataset becomes current again.
    pub version: u64,
    /// Precondition, as in register.
    #[serde(default)]
    pub expected_version: Option<u64>,
}

/// `POST /catalog/gc`: what one collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GcReport {
    /// Snapshots dropped by retention.
    pub snapshots_expired: u64,
    /// Objects the listing went through.
    pub objects_examined: u64,
    /// Objects deleted: no retained snapshot referenced them.
    pub objects_deleted: u64,
    /// Bytes those held.
    pub bytes_deleted: u64,
    /// Unreferenced objects kept because they are younger than the grace period (an upload
    /// whose register may still come).
    pub objects_in_grace: u64,
    /// Log entries and checkpoints no longer needed to load the catalog, removed.
    pub log_objects_deleted: u64,
    /// The catalog version the collection ran at.
    pub version: u64,
    /// Wall time.
    pub elapsed_ms: u64,
}

/// `POST /catalog/index/{name}/commit` (vectord, after storing the index's state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexCommitRequest {
    /// The stored state (`_vectors/<name>.commits/…`).
    pub key: String,
    /// The index's write sequence the state holds.
    pub sequence: u64,
    /// Live items in it.
    pub items: u64,
    /// Its dimension.
    pub dimension: u64,
}

/// A vector index's state recorded under a catalog version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexCommitInfo {
    /// The index.
    pub name: String,
    /// The catalog version of the commit.
    pub version: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// The stored state.
    pub key: String,
    /// The write sequence it holds.
    pub sequence: u64,
    /// Live items.
    pub items: u64,
    /// Dimension.
    pub dimension: u64,
}
