//! Retention, garbage collection, checkpoints and the bounded log.

use std::sync::Arc;
use std::time::Duration;

use lakehouse_types::AsOf;

use super::{append, code, keys, open, register};
use crate::mem::MemStore;
use crate::store::{CHECKPOINT_PREFIX, LOG_PREFIX};
use crate::{CatalogError, Settings};

#[tokio::test]
async fn checkpoints_bound_the_load_and_agree_with_the_log() {
    let store = Arc::new(MemStore::new());
    let settings = Settings {
        checkpoint_every: 10,
        ..Settings::default()
    };
    let c = open(store.clone(), settings.clone()).await;
    for i in 0..35 {
        c.append(append("s", &[&format!("datasets/s/{i}.parquet")]), "r")
            .await
            .unwrap();
    }
    let checkpoints: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(CHECKPOINT_PREFIX))
        .collect();
    assert_eq!(checkpoints.len(), 3, "{checkpoints:?}");
    let again = open(store.clone(), settings).await;
    assert_eq!(again.get("s").unwrap(), c.get("s").unwrap());
    assert_eq!(again.history("s").unwrap(), c.history("s").unwrap());
    assert_eq!(
        keys(&again.get_at("s", &AsOf::Version(17)).unwrap()).len(),
        17
    );
}

#[tokio::test]
async fn retention_expires_old_snapshots_and_gc_deletes_only_unreferenced_objects() {
    let store = Arc::new(MemStore::new());
    let settings = Settings {
        keep_versions: 2,
        keep_for: Duration::ZERO,
        gc_grace: Duration::from_secs(60),
        checkpoint_every: 1_000,
        ..Settings::default()
    };
    let c = open(store.clone(), settings.clone()).await;
    let old = 120_000;
    for k in ["a", "b", "c", "d"] {
        store.put_aged(&format!("datasets/s/{k}.parquet"), b"x", old);
        c.register(register("s", &[&format!("datasets/s/{k}.parquet")]), "r")
            .await
            .unwrap();
    }
    // Shared by the oldest and the current snapshot of another dataset: must survive.
    store.put_aged("datasets/t/shared.parquet", b"x", old);
    c.register(register("t", &["datasets/t/shared.parquet"]), "r")
        .await
        .unwrap();
    // An upload whose register never came, old and young; and a file no dataset owns.
    store.put_aged("datasets/s/orphan.parquet", b"x", old);
    store.put_aged("datasets/s/uploading.parquet", b"x", 1_000);
    store.put_aged("raw/notes.txt", b"x", old);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = c.gc().await.unwrap();
    assert_eq!(r.snapshots_expired, 2);
    assert_eq!(r.objects_deleted, 3, "{r:?}");
    assert_eq!(r.objects_in_grace, 1);
    for gone in [
        "datasets/s/a.parquet",
        "datasets/s/b.parquet",
        "datasets/s/orphan.parquet",
    ] {
        assert!(!store.has(gone), "{gone}");
    }
    for kept in [
        "datasets/s/c.parquet",
        "datasets/s/d.parquet",
        "datasets/t/shared.parquet",
        "datasets/s/uploading.parquet",
        "raw/notes.txt",
    ] {
        assert!(store.has(kept), "{kept}");
    }
    assert!(matches!(
        c.get_at("s", &AsOf::Version(1)),
        Err(CatalogError::Expired(_))
    ));
    assert_eq!(
        keys(&c.get_at("s", &AsOf::Version(3)).unwrap()),
        ["datasets/s/c.parquet"]
    );
    let h = c.history("s").unwrap();
    assert_eq!(h.snapshots.len(), 2);
    assert_eq!(h.expired_through, Some(2));
    // The collection is durable: a load does not bring expired snapshots back.
    let again = open(store.clone(), settings).await;
    assert!(matches!(
        again.get_at("s", &AsOf::Version(2)),
        Err(CatalogError::Expired(_))
    ));
    assert_eq!(again.history("s").unwrap(), h);
    // A commit naming an object just collected is refused, not left dangling.
    let err = c
        .register(register("s", &["datasets/s/orphan.parquet"]), "r")
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some("object_collected"), "{err}");
}

#[tokio::test]
async fn appends_survive_expiry_of_the_snapshot_they_grew_from() {
    let store = Arc::new(MemStore::new());
    let settings = Settings {
        keep_versions: 3,
        keep_for: Duration::ZERO,
        gc_grace: Duration::ZERO,
        checkpoint_every: 4,
        ..Settings::default()
    };
    let c = open(store.clone(), settings.clone()).await;
    for i in 0..10 {
        let key = format!("datasets/s/{i}.parquet");
        store.put_aged(&key, b"x", 10_000);
        c.append(append("s", &[&key]), "r").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = c.gc().await.unwrap();
    assert_eq!(r.snapshots_expired, 7);
    assert_eq!(
        r.objects_deleted, 0,
        "every object is in the current snapshot"
    );
    assert_eq!(keys(&c.get_at("s", &AsOf::Version(8)).unwrap()).len(), 8);
    let again = open(store.clone(), settings).await;
    assert_eq!(again.get("s").unwrap().objects.len(), 10);
    assert_eq!(
        keys(&again.get_at("s", &AsOf::Version(8)).unwrap()).len(),
        8
    );
    assert!(r.log_objects_deleted > 0);
    assert!(
        store
            .keys()
            .iter()
            .filter(|k| k.starts_with(CHECKPOINT_PREFIX))
            .count()
            <= 2
    );
    let log_left = store
        .keys()
        .iter()
        .filter(|k| k.starts_with(LOG_PREFIX))
        .count();
    assert!(
        log_left < 10,
        "commits inside a kept checkpoint are removed: {log_left} left"
    );
}

#[tokio::test]
async fn deleted_datasets_go_entirely_once_past_retention() {
    let store = Arc::new(MemStore::new());
    let settings = Settings {
        keep_versions: 10,
        keep_for: Duration::ZERO,
        gc_grace: Duration::ZERO,
        checkpoint_every: 1_000,
        ..Settings::default()
    };
    let c = open(store.clone(), settings).await;
    store.put_aged("datasets/s/a.parquet", b"x", 10_000);
    c.register(register("s", &["datasets/s/a.parquet"]), "r")
        .await
        .unwrap();
    c.delete("s", None, "r").await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = c.gc().await.unwrap();
    assert_eq!(r.snapshots_expired, 2);
    assert!(!store.has("datasets/s/a.parquet"));
    assert!(matches!(
        c.get_at("s", &AsOf::Version(1)),
        Err(CatalogError::Expired(_))
    ));
}

#[tokio::test]
async fn the_log_is_bounded_and_times_before_it_still_resolve() {
    let store = Arc::new(MemStore::new());
    let settings = Settings {
        max_log_entries: 3,
        ..Settings::default()
    };
    let c = open(store.clone(), settings.clone()).await;
    c.register(register("still", &["datasets/still/a.parquet"]), "r")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let early = crate::time::rfc3339(crate::time::now_ms());
    tokio::time::sleep(Duration::from_millis(5)).await;
    for i in 0..6 {
        c.append(
            append("busy", &[&format!("datasets/busy/{i}.parquet")]),
            "r",
        )
        .await
        .unwrap();
    }
    c.gc().await.unwrap();
    let log = c.log(0, 100).unwrap();
    assert_eq!(log.commits.len(), 3, "{log:?}");
    // 'still' never changed: its snapshot at version 1 answers a time before the listed log.
    assert_eq!(c.resolve(&AsOf::Time(early.clone())).unwrap(), 1);
    assert_eq!(
        keys(&c.get_at("still", &AsOf::Time(early.clone())).unwrap()).len(),
        1
    );
    assert!(matches!(
        c.get_at("busy", &AsOf::Time(early.clone())),
        Err(CatalogError::NotFound(_))
    ));
    let again = open(store, settings).await;
    assert_eq!(again.resolve(&AsOf::Time(early)).unwrap(), 1);
}
