//! Wire types and validated identifiers shared by every Lakehouse crate.
//!
//! Layout: [`key`] holds [`ObjectKey`], the only way a storage key enters the system;
//! [`catalog`] catalogd's manifests; [`data`] ingestd's and queryd's bodies; [`storage`] the storaged request/response bodies; [`service`] health and error bodies; [`versions`] the commit log, history and
//! `as_of`; [`shard`] which vectord owns an index.
//! Nothing here knows about HTTP or async runtimes.

pub mod catalog;
pub mod data;
pub mod key;
pub mod service;
pub mod shard;
pub mod storage;
pub mod versions;

pub use catalog::{
    AppendRequest, CatalogVersion, Column, DataObject, Manifest, ManifestList, RegisterRequest,
    RegisterResponse, canonical_column_type, column_type_error, data_key_error, dataset_name_error,
    name_error, schema_fingerprint,
};
pub use data::{IngestResponse, ResultColumn, SqlRequest, SqlResponse, TableInfo, TablesResponse};
pub use key::{INTERNAL_PREFIXES, KeyError, ObjectKey, is_internal};
pub use service::{ErrorBody, ErrorDetail, HealthResponse, ReadyResponse};
pub use storage::{ListResponse, ObjectInfo, PutResponse};
pub use versions::{
    AsOf, ChangeKind, ChangeOp, ChangeSummary, CommitInfo, CommitLog, GcReport, History,
    IndexCommitInfo, IndexCommitRequest, RollbackRequest, SnapshotInfo,
};
