//! Local copies of Parquet objects, fetched whole through storaged and kept by key (objects are
//! immutable, so a copy never goes stale). Least recently used copies are evicted past the size
//! cap, except those pinned by a running query. A restart finds and reuses what is on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lakehouse_client::{ClientError, StorageClient};
use lakehouse_types::ObjectKey;
use sha2::{Digest, Sha256};

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups answered from disk.
    pub hits: AtomicU64,
    /// Objects fetched.
    pub misses: AtomicU64,
    /// Objects evicted.
    pub evictions: AtomicU64,
    /// Bytes fetched from storaged.
    pub fetched_bytes: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    size: u64,
    last_used: u64,
    pins: u32,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    total: u64,
    tick: u64,
}

/// The object cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    tmp: PathBuf,
    max_bytes: u64,
    storage: StorageClient,
    inner: Mutex<Inner>,
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Counters.
    pub stats: CacheStats,
}

/// Copies pinned for one query; unpinned on drop.
#[derive(Debug)]
pub struct Pins {
    cache: Arc<Cache>,
    files: Vec<String>,
}

impl Drop for Pins {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        for f in &self.files {
            if let Some(e) = inner.entries.get_mut(f) {
                e.pins = e.pins.saturating_sub(1);
            }
        }
        drop(inner);
        self.cache.evict();
    }
}

/// The file name of `key`'s copy: the key's sha256, so any key maps to a safe name.
pub fn file_name(key: &str) -> String {
    format!("{}.parquet", hex::encode(Sha256::digest(key.as_bytes())))
}

impl Cache {
    /// Opens (creating) `root`, indexing copies already there, oldest first.
    pub fn open(root: &Path, max_bytes: u64, storage: StorageClient) -> std::io::Result<Arc<Self>> {
        let dir = root.join("objects");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&dir)?;
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let mut found = Vec::new();
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let meta = e.metadata()?;
            let name = e.file_name().to_string_lossy().into_owned();
            if meta.is_file() && name.ends_with(".parquet") {
                found.push((meta.modified().ok(), name, meta.len()));
            }
        }
        found.sort();
        let mut inner = Inner::default();
        for (_, name, size) in found {
            inner.tick += 1;
            inner.total += size;
            inner.entries.insert(
                name,
                Entry {
                    size,
                    last_used: inner.tick,
                    pins: 0,
                },
            );
        }
        tracing::info!(
            objects = inner.entries.len(),
            bytes = inner.total,
            "object cache opened"
        );
        let cache = Arc::new(Self {
            dir,
            tmp,
            max_bytes,
            storage,
            inner: Mutex::new(inner),
            fetching: Mutex::default(),
            stats: CacheStats::default(),
        });
        cache.evict();
        Ok(cache)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The directory queries may read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `key`'s copy lives (whether or not it is there now).
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(file_name(key))
    }

    /// Bytes and objects held.
    pub fn usage(&self) -> (u64, usize) {
        let inner = self.lock();
        (inner.total, inner.entries.len())
    }

    /// Makes sure every `(key, size)` has a local copy and pins them all.
    pub async fn ensure(
        self: &Arc<Self>,
        objects: &[(String, u64)],
        rid: &str,
    ) -> Result<Pins, ClientError> {
        let mut pins = Pins {
            cache: self.clone(),
            files: Vec::with_capacity(objects.len()),
        };
        for (key, size) in objects {
            let name = file_name(key);
            if !self.pin(&name, *size) {
                self.fetch(key, &name, *size, rid).await?;
            }
            pins.files.push(name);
        }
        self.evict();
        Ok(pins)
    }

    /// Pins an existing copy of the right size; false when there is none.
    fn pin(&self, name: &str, size: u64) -> bool {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        match inner.entries.get_mut(name) {
            Some(e) if e.size == size => {
                e.pins += 1;
                e.last_used = tick;
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    async fn fetch(&self, key: &str, name: &str, size: u64, rid: &str) -> Result<(), ClientError> {
        let lock = self
            .fetching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        // Another query may have fetched it while this one waited.
        if self.pin(name, size) {
            return Ok(());
        }
        let local = |e: std::io::Error| ClientError::Decode {
            url: key.to_owned(),
            message: format!("local cache: {e}"),
        };
        let okey = ObjectKey::parse(key.to_owned()).map_err(|e| ClientError::Decode {
            url: key.to_owned(),
            message: e.to_string(),
        })?;
        let tmp = self.tmp.join(format!("{name}.{}", uuid::Uuid::new_v4()));
        let mut file = tokio::fs::File::create(&tmp).await.map_err(local)?;
        let got = match self.storage.get_to_file(&okey, &mut file, rid).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        drop(file);
        if got != size {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(ClientError::Decode {
                url: key.to_owned(),
                message: format!("object is {got} bytes, the manifest says {size}"),
            });
        }
        tokio::fs::rename(&tmp, self.dir.join(name))
            .await
            .map_err(local)?;
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        self.stats.fetched_bytes.fetch_add(got, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.entries.insert(
            name.to_owned(),
            Entry {
                size,
                last_used: tick,
                pins: 1,
            },
        ) {
            inner.total -= old.size;
        }
        inner.total += size;
        Ok(())
    }

    /// Removes least recently used, unpinned copies until the total fits the cap.
    pub fn evict(&self) {
        let mut inner = self.lock();
        if inner.total <= self.max_bytes {
            return;
        }
        let mut candidates: Vec<(u64, String, u64)> = inner
            .entries
            .iter()
            .filter(|(_, e)| e.pins == 0)
            .map(|(n, e)| (e.last_used, n.clone(), e.size))
            .collect();
        candidates.sort();
        for (_, name, size) in candidates {
            if inner.total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(self.dir.join(&name)).is_ok() {
                inner.entries.remove(&name);
                inner.total -= size;
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
