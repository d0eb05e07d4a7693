//! Object storage backends for Lakehouse: the only durable substrate of the platform.
//!
//! Layout: [`ObjectStore`] is the trait every backend implements; [`fs`] stores objects as files
//! under a root directory (temp file, fsync, rename); [`s3`] talks to any S3-compatible store
//! through the AWS SDK; [`range`] resolves HTTP byte ranges; [`conditional`] create-only and
//! compare-and-swap writes. No HTTP server code lives here.

pub mod conditional;
pub mod error;
pub mod fs;
pub mod range;
pub mod s3;

use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use lakehouse_types::ObjectKey;

pub use conditional::{KeyLocks, Precondition, put_if};
pub use error::{StorageError, StorageResult};
pub use fs::FsStore;
pub use range::ByteRange;
pub use s3::{S3Settings, S3Store};

/// Bytes coming out of a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = StorageResult<Bytes>> + Send>>;

/// Bytes going into a store; an `Err` item means the sender failed (e.g. a client disconnect).
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: ObjectKey,
    /// Size in bytes.
    pub size: u64,
    /// Opaque version tag, quoted as in HTTP.
    pub etag: String,
    /// Time of the last write.
    pub last_modified: SystemTime,
}

/// An object being read: its metadata, the byte span served, and the bytes.
pub struct GetResult {
    /// Metadata of the whole object.
    pub meta: ObjectMeta,
    /// `(first, last)` inclusive byte offsets when a range was asked for.
    pub range: Option<(u64, u64)>,
    /// The bytes of the object, or of the range.
    pub body: ByteStream,
}

impl std::fmt::Debug for GetResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// One page of a listing, in UTF-8 byte order of the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The objects of this page.
    pub objects: Vec<ObjectMeta>,
    /// More objects follow.
    pub truncated: bool,
    /// Where the next page starts (pass as `after`), when `truncated`.
    pub next_after: Option<String>,
}

/// A place objects live. Implementations must make a written object visible whole or not at
/// all: a concurrent reader never sees a partial object.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `body` under `key`, replacing any object there. Fails with
    /// [`StorageError::TooLarge`] as soon as more than `max_bytes` arrive, leaving nothing behind.
    async fn put(
        &self,
        key: &ObjectKey,
        body: BodyStream,
        max_bytes: u64,
    ) -> StorageResult<ObjectMeta>;

    /// Reads an object, or one byte range of it.
    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> StorageResult<GetResult>;

    /// Metadata of an object.
    async fn head(&self, key: &ObjectKey) -> StorageResult<ObjectMeta>;

    /// Removes an object; [`StorageError::NotFound`] when there is none.
    async fn delete(&self, key: &ObjectKey) -> StorageResult<()>;

    /// Up to `limit` objects whose key starts with `prefix` and sorts after `after`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<ListPage>;

    /// Checks the backend answers (for `/ready`).
    async fn check(&self) -> StorageResult<()>;

    /// A short name for logs and metrics (`fs`, `s3`).
    fn backend_name(&self) -> &'static str;
}
