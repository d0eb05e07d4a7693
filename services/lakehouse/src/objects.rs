//! Object storage for the operator's commands: whole-object copies with a checksum on the
//! way, and the catalog read straight from a store (no fleet needs to run).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use lakehouse_storage::{KeyLocks, ObjectStore, Precondition, StorageError, put_if};
use lakehouse_types::ObjectKey;
use sha2::{Digest, Sha256};

/// A store, shared.
pub type Store = Arc<dyn ObjectStore>;

/// Parses a key read from a listing or a manifest.
pub fn key(k: &str) -> Result<ObjectKey, StorageError> {
    ObjectKey::parse(k.to_owned()).map_err(|e| StorageError::BadRequest(format!("{k}: {e}")))
}

/// Copies `k` from `from` to `to`, hashing the bytes as they pass: (size, hex sha256).
pub async fn copy(from: &Store, to: &Store, k: &str) -> Result<(u64, String), StorageError> {
    let okey = key(k)?;
    let got = from.get(&okey, None).await?;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let h = hasher.clone();
    let body = got
        .body
        .map(move |chunk| {
            let chunk: Bytes = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
            h.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .update(&chunk);
            Ok::<_, std::io::Error>(chunk)
        })
        .boxed();
    let meta = to.put(&okey, body, u64::MAX).await?;
    let digest = hasher
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok((meta.size, hex::encode(digest.finalize())))
}

/// Reads `k` whole: (bytes, hex sha256).
pub async fn read(from: &Store, k: &str) -> Result<(Vec<u8>, String), StorageError> {
    let got = from.get(&key(k)?, None).await?;
    let chunks: Vec<Bytes> = got.body.try_collect().await?;
    let bytes = chunks.concat();
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// Hashes `k` without keeping it: (size, hex sha256).
pub async fn hash(from: &Store, k: &str) -> Result<(u64, String), StorageError> {
    let mut body = from.get(&key(k)?, None).await?.body;
    let mut h = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Writes `bytes` to `k`.
pub async fn write(to: &Store, k: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(bytes)) });
    to.put(&key(k)?, body.boxed(), u64::MAX).await.map(drop)
}

/// Every object under `prefix`: (key, size, etag).
pub async fn list_all(s: &Store, prefix: &str) -> Result<Vec<(String, u64, String)>, StorageError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.list(prefix, after.as_deref(), 1_000).await?;
        out.extend(
            page.objects
                .into_iter()
                .map(|o| (o.key.as_str().to_owned(), o.size, o.etag)),
        );
        match (page.truncated, page.next_after) {
            (true, Some(next)) => after = Some(next),
            _ => return Ok(out),
        }
    }
}

/// A store as the catalog's store, to read the catalog without catalogd.
#[derive(Clone)]
pub struct CatalogStore(pub Store);

impl std::fmt::Debug for CatalogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogStore")
    }
}

impl CatalogStore {
    async fn put_if(
        &self,
        k: &str,
        bytes: Vec<u8>,
        cond: Precondition,
    ) -> Result<String, StorageError> {
        let body =
            futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(bytes)) });
        let locks = LOCKS.get_or_init(KeyLocks::default);
        put_if(&*self.0, locks, &key(k)?, body.boxed(), u64::MAX, &cond)
            .await
            .map(|m| m.etag)
    }
}

/// The command's own conditional writers share these locks.
static LOCKS: std::sync::OnceLock<KeyLocks> = std::sync::OnceLock::new();

fn failed(e: &StorageError) -> lakehouse_catalog::StoreError {
    lakehouse_catalog::StoreError(e.to_string())
}

impl lakehouse_catalog::ObjectStore for CatalogStore {
    async fn put(&self, k: &str, body: Vec<u8>) -> Result<(), lakehouse_catalog::StoreError> {
        write(&self.0, k, body).await.map_err(|e| failed(&e))
    }

    async fn put_new(&self, k: &str, body: Vec<u8>) -> Result<bool, lakehouse_catalog::StoreError> {
        match self.put_if(k, body, Precondition::Absent).await {
            Ok(_) => Ok(true),
            Err(StorageError::PreconditionFailed { .. }) => Ok(false),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn put_over(
        &self,
        k: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, lakehouse_catalog::StoreError> {
        match self
            .put_if(k, body, Precondition::Matches(etag.to_owned()))
            .await
        {
            Ok(etag) => Ok(Some(etag)),
            Err(StorageError::PreconditionFailed { .. }) => Ok(None),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn get_tagged(
        &self,
        k: &str,
    ) -> Result<Option<(Vec<u8>, String)>, lakehouse_catalog::StoreError> {
        let okey = key(k).map_err(|e| failed(&e))?;
        let got = match self.0.get(&okey, None).await {
            Ok(g) => g,
            Err(StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(failed(&e)),
        };
        let etag = got.meta.etag.clone();
        let chunks: Vec<Bytes> = got.body.try_collect().await.map_err(|e| failed(&e))?;
        Ok(Some((chunks.concat(), etag)))
    }

    async fn get(&self, k: &str) -> Result<Option<Vec<u8>>, lakehouse_catalog::StoreError> {
        match read(&self.0, k).await {
            Ok((b, _)) => Ok(Some(b)),
            Err(StorageError::NotFound(_)) => Ok(None),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn delete(&self, k: &str) -> Result<(), lakehouse_catalog::StoreError> {
        match self.0.delete(&key(k).map_err(|e| failed(&e))?).await {
            Ok(()) | Err(StorageError::NotFound(_)) => Ok(()),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<lakehouse_catalog::Page, lakehouse_catalog::StoreError> {
        let page = self
            .0
            .list(prefix, after, 1_000)
            .await
            .map_err(|e| failed(&e))?;
        Ok(lakehouse_catalog::Page {
            next_after: if page.truncated {
                page.next_after
            } else {
                None
            },
            objects: page
                .objects
                .into_iter()
                .map(|o| lakehouse_catalog::Listed {
                    key: o.key.as_str().to_owned(),
                    size: o.size,
                    modified_ms: o
                        .last_modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .ok()
                        .and_then(|d| i64::try_from(d.as_millis()).ok()),
                })
                .collect(),
        })
    }
}
