//! Conditional writes (`If-None-Match: *`, `If-Match: "etag"`), checked here rather than left
//! to the backend: some S3 servers (Garage 2.5) accept the headers and overwrite anyway. A
//! conditional write holds its key's lock from the check to the end of the write, so of two
//! conditional writers of one key through one process, exactly one succeeds.

use lakehouse_types::ObjectKey;
use tokio::sync::Mutex;

use crate::{BodyStream, ObjectMeta, ObjectStore, StorageError, StorageResult};

/// What must hold for a write to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No object has the key (`If-None-Match: *`).
    Absent,
    /// The object exists and its ETag is this one, or any when `*` (`If-Match`).
    Matches(String),
}

/// One lock per stripe of the key space: enough to keep unrelated keys from waiting on each
/// other, few enough to allocate once.
#[derive(Debug)]
pub struct KeyLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self {
            stripes: (0..64).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl KeyLocks {
    fn of(&self, key: &ObjectKey) -> &Mutex<()> {
        // FNV-1a: stable, fast, and good enough to spread keys over stripes.
        let h = key
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        &self.stripes[(h % self.stripes.len() as u64) as usize]
    }
}

/// ETags compare without their quotes and weak prefix, as clients echo them back either way.
fn same_etag(a: &str, b: &str) -> bool {
    let bare = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    bare(a) == bare(b)
}

/// Writes `body` under `key` only when `cond` holds; [`StorageError::PreconditionFailed`]
/// (with the current ETag, if there is an object) when it does not, writing nothing.
pub async fn put_if(
    store: &dyn ObjectStore,
    locks: &KeyLocks,
    key: &ObjectKey,
    body: BodyStream,
    max_bytes: u64,
    cond: &Precondition,
) -> StorageResult<ObjectMeta> {
    let _held = locks.of(key).lock().await;
    let current = match store.head(key).await {
        Ok(m) => Some(m.etag),
        Err(StorageError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let holds = match (cond, &current) {
        (Precondition::Absent, None) => true,
        (Precondition::Matches(want), Some(have)) => want == "*" || same_etag(want, have),
        _ => false,
    };
    if !holds {
        return Err(StorageError::PreconditionFailed { current });
    }
    store.put(key, body, max_bytes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsStore;
    use bytes::Bytes;
    use std::sync::Arc;

    fn body(s: &'static str) -> BodyStream {
        Box::pin(futures::stream::once(async move {
            Ok::<_, std::io::Error>(Bytes::from_static(s.as_bytes()))
        }))
    }

    #[tokio::test]
    async fn create_only_and_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let locks = KeyLocks::default();
        let key = ObjectKey::parse("a/lease.json".to_owned()).unwrap();
        let first = put_if(&store, &locks, &key, body("1"), 10, &Precondition::Absent)
            .await
            .unwrap();
        let again = put_if(&store, &locks, &key, body("2"), 10, &Precondition::Absent).await;
        assert!(
            matches!(again, Err(StorageError::PreconditionFailed { current: Some(ref e) }) if *e == first.etag)
        );
        let stale = Precondition::Matches("\"nope\"".into());
        assert!(matches!(
            put_if(&store, &locks, &key, body("3"), 10, &stale).await,
            Err(StorageError::PreconditionFailed { .. })
        ));
        let unquoted = Precondition::Matches(first.etag.trim_matches('"').to_owned());
        let second = put_if(&store, &locks, &key, body("4"), 10, &unquoted)
            .await
            .unwrap();
        assert_ne!(second.etag, first.etag);
        let missing = ObjectKey::parse("a/none".to_owned()).unwrap();
        let any = Precondition::Matches("*".into());
        assert!(matches!(
            put_if(&store, &locks, &missing, body("5"), 10, &any).await,
            Err(StorageError::PreconditionFailed { current: None })
        ));
    }

    #[tokio::test]
    async fn of_many_racing_creators_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).unwrap());
        let locks = Arc::new(KeyLocks::default());
        let key = ObjectKey::parse("log/00001.json".to_owned()).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (store, locks, key) = (store.clone(), locks.clone(), key.clone());
                tokio::spawn(async move {
                    put_if(&*store, &locks, &key, body("x"), 10, &Precondition::Absent)
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
    }
}
