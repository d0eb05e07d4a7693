//! An object store in memory, for tests: it can fail writes on demand, or make them land
//! while reporting failure, the two faults a commit has to survive.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::store::{Listed, ObjectStore, Page, StoreError};
use crate::time::now_ms;

/// Objects by key, with their write time.
#[derive(Debug, Default)]
pub struct MemStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, i64)>>,
    /// Counts writes: a write's number is its ETag.
    writes: std::sync::atomic::AtomicU64,
    /// The next this many puts fail without writing.
    pub fail_puts: AtomicU32,
    /// The next this many puts write, then report failure.
    pub lose_put_answers: AtomicU32,
    /// Listing page size.
    pub page: usize,
}

impl MemStore {
    /// An empty store listing 1,000 keys a page.
    pub fn new() -> Self {
        Self {
            page: 1_000,
            ..Self::default()
        }
    }

    /// Writes `key` as if it was written `age_ms` ago.
    pub fn put_aged(&self, key: &str, body: &[u8], age_ms: i64) {
        self.lock()
            .insert(key.to_owned(), (body.to_vec(), now_ms() - age_ms));
    }

    /// Whether `key` exists.
    pub fn has(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    /// Every key, in order.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Vec<u8>, i64)>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

/// The ETag of an object: its bytes' length and a hash of them (FNV-1a), so a rewrite
/// with other bytes changes it.
fn etag_of(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{}-{h:x}\"", body.len())
}

impl MemStore {
    /// Writes `body` when `allowed` holds of the current object, with the injected faults.
    fn write_if(
        &self,
        key: &str,
        body: Vec<u8>,
        allowed: impl FnOnce(Option<&(Vec<u8>, i64)>) -> bool,
    ) -> Result<Option<String>, StoreError> {
        if take(&self.fail_puts) {
            return Err(StoreError("injected: put refused".into()));
        }
        let etag = etag_of(&body);
        {
            let mut map = self.lock();
            if !allowed(map.get(key)) {
                return Ok(None);
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            map.insert(key.to_owned(), (body, now_ms()));
        }
        if take(&self.lose_put_answers) {
            return Err(StoreError("injected: answer lost".into()));
        }
        Ok(Some(etag))
    }
}

impl ObjectStore for MemStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.write_if(key, body, |_| true).map(drop)
    }

    async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        Ok(self.write_if(key, body, |o| o.is_none())?.is_some())
    }

    async fn put_over(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, StoreError> {
        self.write_if(key, body, |o| o.is_some_and(|(b, _)| etag_of(b) == etag))
    }

    async fn get_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        Ok(self.lock().get(key).map(|(b, _)| (b.clone(), etag_of(b))))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).map(|(b, _)| b.clone()))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Page, StoreError> {
        let map = self.lock();
        let mut objects: Vec<Listed> = map
            .range(after.map_or(prefix.to_owned(), |a| format!("{a}\0"))..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(self.page.max(1) + 1)
            .map(|(k, (b, t))| Listed {
                key: k.clone(),
                size: b.len() as u64,
                modified_ms: Some(*t),
            })
            .collect();
        let more = objects.len() > self.page.max(1);
        objects.truncate(self.page.max(1));
        Ok(Page {
            next_after: more
                .then(|| objects.last().map(|o| o.key.clone()))
                .flatten(),
            objects,
        })
    }
}
