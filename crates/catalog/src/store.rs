//! The object store the catalog keeps its state in, and where in it each record lives.
//!
//! `_catalog/log/<version>.json` holds one commit each (written once, atomically: the commit
//! point); `_catalog/checkpoints/<version>.json` the whole state at a version, so a load
//! reads one checkpoint and the commits after it. Versions are zero-padded so the store's
//! byte order is version order.

use std::future::Future;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Last write, milliseconds since the Unix epoch, when the store says.
    pub modified_ms: Option<i64>,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The objects.
    pub objects: Vec<Listed>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_after: Option<String>,
}

/// A store failure (transport, server, permissions): the operation may be retried.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// What the catalog needs of object storage. Writes of one object are atomic: a reader sees
/// the old bytes or the new, never a mix.
pub trait ObjectStore: Send + Sync + 'static {
    /// Writes `key` durably.
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `key` only if no object has it: `false` (nothing written) when one does. The
    /// commit log is written this way, so no two writers ever both make one version.
    fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes `key` only over the object whose ETag is `etag`: its new ETag, or `None`
    /// (nothing written) when the object changed or is gone.
    fn put_over(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Reads `key` and its ETag; `None` when it does not exist.
    fn get_tagged(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Vec<u8>, String)>, StoreError>> + Send;
    /// Reads `key`; `None` when it does not exist.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Removes `key`; a missing key is not an error.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Keys under `prefix` strictly after `after`, one page.
    fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// The commit log.
pub const LOG_PREFIX: &str = "_catalog/log/";
/// Checkpoints of the whole state.
pub const CHECKPOINT_PREFIX: &str = "_catalog/checkpoints/";
/// One manifest per dataset, the layout before versions (read once, to import it).
pub const LEGACY_PREFIX: &str = "_catalog/manifests/";

/// The key of commit `version`.
pub fn log_key(version: u64) -> String {
    format!("{LOG_PREFIX}{version:020}.json")
}

/// The key of the checkpoint at `version`.
pub fn checkpoint_key(version: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{version:020}.json")
}

/// The version in a log or checkpoint key.
pub fn version_of(key: &str, prefix: &str) -> Option<u64> {
    let digits = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The versions of every checkpoint, ascending.
pub async fn checkpoint_versions<S: ObjectStore>(store: &S) -> Result<Vec<u64>, StoreError> {
    let mut v: Vec<u64> = list_all(store, CHECKPOINT_PREFIX)
        .await?
        .iter()
        .filter_map(|o| version_of(&o.key, CHECKPOINT_PREFIX))
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Every key under `prefix` (all pages).
pub async fn list_all<S: ObjectStore>(store: &S, prefix: &str) -> Result<Vec<Listed>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(prefix, after.as_deref()).await?;
        out.extend(page.objects);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_version_and_parse_back() {
        assert!(log_key(9) < log_key(10));
        assert_eq!(version_of(&log_key(1234), LOG_PREFIX), Some(1234));
        assert_eq!(
            version_of(&checkpoint_key(u64::MAX), CHECKPOINT_PREFIX),
            Some(u64::MAX)
        );
        for bad in [
            "_catalog/log/12.json",
            "_catalog/log/0000000000000000000x.json",
        ] {
            assert_eq!(version_of(bad, LOG_PREFIX), None, "{bad}");
        }
    }
}
