//! The catalog's rules over a store in memory: commits, reads, rollback, preconditions here;
//! retention, collection and checkpoints in [`gc`].

#![allow(clippy::unwrap_used)]

mod gc;
mod lease;
mod tables;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lakehouse_types::{
    AppendRequest, AsOf, ChangeOp, Column, DataObject, RegisterRequest, RollbackRequest,
};

use crate::mem::MemStore;
use crate::{Catalog, CatalogError, Settings};

pub(super) fn obj(key: &str, rows: u64) -> DataObject {
    DataObject {
        key: key.into(),
        size: 10,
        row_count: rows,
    }
}

pub(super) fn schema() -> Vec<Column> {
    vec![Column {
        name: "id".into(),
        ty: "BIGINT".into(),
        nullable: true,
    }]
}

pub(super) fn register(name: &str, keys: &[&str]) -> RegisterRequest {
    RegisterRequest {
        name: name.into(),
        schema_fingerprint: "fp".into(),
        schema: schema(),
        objects: keys.iter().map(|k| obj(k, 1)).collect(),
        row_count: None,
        expected_version: None,
    }
}

pub(super) fn append(name: &str, keys: &[&str]) -> AppendRequest {
    AppendRequest {
        name: name.into(),
        schema_fingerprint: "fp".into(),
        objects: keys.iter().map(|k| obj(k, 1)).collect(),
        schema: schema(),
        create: true,
        expected_version: None,
    }
}

pub(super) async fn open(store: Arc<MemStore>, settings: Settings) -> Arc<Catalog<Arc<MemStore>>> {
    let c = Arc::new(Catalog::new(store, settings));
    c.load().await;
    c
}

impl crate::ObjectStore for Arc<MemStore> {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), crate::StoreError> {
        self.as_ref().put(key, body).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::StoreError> {
        self.as_ref().get(key).await
    }
    async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, crate::StoreError> {
        self.as_ref().put_new(key, body).await
    }
    async fn put_over(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, crate::StoreError> {
        self.as_ref().put_over(key, body, etag).await
    }
    async fn get_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, crate::StoreError> {
        self.as_ref().get_tagged(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), crate::StoreError> {
        self.as_ref().delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<crate::Page, crate::StoreError> {
        self.as_ref().list(prefix, after).await
    }
}

/// The code of a refusal that carries one.
pub(super) fn code(e: &CatalogError) -> Option<&'static str> {
    match e {
        CatalogError::Invalid { code, .. } | CatalogError::Conflict { code, .. } => Some(code),
        _ => None,
    }
}

pub(super) fn keys(m: &lakehouse_types::Manifest) -> Vec<&str> {
    m.objects.iter().map(|o| o.key.as_str()).collect()
}

#[tokio::test]
async fn every_change_is_a_version_and_old_ones_read_back() {
    let store = Arc::new(MemStore::new());
    let c = open(store.clone(), Settings::default()).await;
    assert_eq!(c.version(), 0);
    let v1 = c
        .register(register("s", &["datasets/s/a.parquet"]), "r1")
        .await
        .unwrap();
    assert!(v1.created);
    assert_eq!(v1.response.manifest.catalog_version, 1);
    c.append(append("s", &["datasets/s/b.parquet"]), "r2")
        .await
        .unwrap();
    c.register(register("s", &["datasets/s/c.parquet"]), "r3")
        .await
        .unwrap();
    c.delete("s", None, "r4").await.unwrap();
    assert_eq!(c.version(), 4);
    assert!(matches!(c.get("s"), Err(CatalogError::NotFound(_))));
    let at = |v| c.get_at("s", &AsOf::Version(v));
    assert_eq!(keys(&at(1).unwrap()), ["datasets/s/a.parquet"]);
    assert_eq!(
        keys(&at(2).unwrap()),
        ["datasets/s/a.parquet", "datasets/s/b.parquet"]
    );
    assert_eq!(at(2).unwrap().row_count, 2);
    assert_eq!(keys(&at(3).unwrap()), ["datasets/s/c.parquet"]);
    assert!(matches!(at(4), Err(CatalogError::NotFound(_))));
    assert!(matches!(
        at(5),
        Err(CatalogError::VersionNotFound {
            version: 5,
            current: 4
        })
    ));
    assert!(matches!(at(0), Err(CatalogError::VersionNotFound { .. })));
    let h = c.history("s").unwrap();
    let ops: Vec<ChangeOp> = h.snapshots.iter().map(|s| s.op).collect();
    assert_eq!(
        ops,
        [
            ChangeOp::Delete,
            ChangeOp::Replace,
            ChangeOp::Append,
            ChangeOp::Create
        ]
    );
    assert_eq!(h.snapshots[2].parent, Some(1));
    assert_eq!(h.snapshots[2].object_count, 2);
    let log = c.log(0, 100).unwrap();
    assert_eq!(log.commits.len(), 4);
    assert_eq!(log.commits[1].request_id, "r2");
    assert_eq!(log.commits[1].changes[0].op, ChangeOp::Append);
    let page = c.log(1, 2).unwrap();
    assert_eq!(
        page.commits.iter().map(|c| c.version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(page.next_after, Some(3));

    // The same state comes back from storage alone.
    let again = open(store, Settings::default()).await;
    assert_eq!(again.version(), 4);
    assert_eq!(
        keys(&again.get_at("s", &AsOf::Version(2)).unwrap()).len(),
        2
    );
    assert_eq!(again.log(0, 100).unwrap(), log);
}

#[tokio::test]
async fn rollback_restores_as_a_new_commit() {
    let c = open(Arc::new(MemStore::new()), Settings::default()).await;
    c.register(register("s", &["datasets/s/a.parquet"]), "r")
        .await
        .unwrap();
    c.register(register("s", &["datasets/s/wrong.parquet"]), "r")
        .await
        .unwrap();
    let m = c
        .rollback(
            "s",
            RollbackRequest {
                version: 1,
                expected_version: None,
            },
            "r",
        )
        .await
        .unwrap();
    assert_eq!(keys(&m), ["datasets/s/a.parquet"]);
    assert_eq!(m.catalog_version, 3);
    assert_eq!(m.version, 3, "the dataset's own counter keeps counting");
    c.delete("s", None, "r").await.unwrap();
    let back = c
        .rollback(
            "s",
            RollbackRequest {
                version: 2,
                expected_version: None,
            },
            "r",
        )
        .await
        .unwrap();
    assert_eq!(keys(&back), ["datasets/s/wrong.parquet"]);
    assert_eq!(c.history("s").unwrap().snapshots[0].rollback_of, Some(2));
    let err = c
        .rollback(
            "never",
            RollbackRequest {
                version: 1,
                expected_version: None,
            },
            "r",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some("not_at_version"), "{err}");
    c.register(register("t", &["datasets/t/a.parquet"]), "r")
        .await
        .unwrap();
    let err = c
        .rollback(
            "t",
            RollbackRequest {
                version: 1,
                expected_version: None,
            },
            "r",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("did not exist at catalog version 1"),
        "{err}"
    );
    let err = c
        .rollback(
            "t",
            RollbackRequest {
                version: 99,
                expected_version: None,
            },
            "r",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::VersionNotFound { .. }));
}

#[tokio::test]
async fn stale_preconditions_are_refused_with_the_current_version() {
    let c = open(Arc::new(MemStore::new()), Settings::default()).await;
    let mut create = register("s", &["datasets/s/a.parquet"]);
    create.expected_version = Some(0);
    c.register(create.clone(), "r").await.unwrap();
    let err = c.register(create, "r").await.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::VersionConflict {
                expected: 0,
                current: 1,
                ..
            }
        ),
        "{err}"
    );
    let mut a = append("s", &["datasets/s/b.parquet"]);
    a.expected_version = Some(1);
    c.append(a.clone(), "r").await.unwrap();
    a.objects = vec![obj("datasets/s/c.parquet", 1)];
    let err = c.append(a, "r").await.unwrap_err();
    assert!(matches!(
        err,
        CatalogError::VersionConflict { current: 2, .. }
    ));
    assert!(c.delete("s", Some(1), "r").await.is_err());
    c.delete("s", Some(2), "r").await.unwrap();
}

#[tokio::test]
async fn parallel_writers_get_distinct_versions_and_lose_nothing() {
    let store = Arc::new(MemStore::new());
    let c = open(store.clone(), Settings::default()).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("datasets/s/{i}.parquet");
            c.append(append("s", &[&key]), "r")
                .await
                .unwrap()
                .response
                .manifest
                .catalog_version
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 64);
    assert_eq!(c.get("s").unwrap().objects.len(), 64);
    let again = open(store, Settings::default()).await;
    assert_eq!(again.get("s").unwrap().objects.len(), 64);
}

#[tokio::test]
async fn a_lost_answer_or_a_failed_write_never_splits_memory_from_storage() {
    let store = Arc::new(MemStore::new());
    let c = open(store.clone(), Settings::default()).await;
    c.register(register("s", &["datasets/s/a.parquet"]), "r")
        .await
        .unwrap();
    // The write lands but its answer is lost: reading back finds it, so it counts.
    store.lose_put_answers.store(1, Ordering::SeqCst);
    let m = c
        .append(append("s", &["datasets/s/b.parquet"]), "r")
        .await
        .unwrap();
    assert_eq!(m.response.manifest.objects.len(), 2);
    // The write fails: nothing changes, and the version it would have had is never reused.
    store.fail_puts.store(1, Ordering::SeqCst);
    let err = c
        .append(append("s", &["datasets/s/c.parquet"]), "r")
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Storage(_)));
    assert_eq!(c.get("s").unwrap().objects.len(), 2);
    let next = c
        .append(append("s", &["datasets/s/d.parquet"]), "r")
        .await
        .unwrap();
    assert_eq!(next.response.manifest.catalog_version, 4);
    let again = open(store, Settings::default()).await;
    assert_eq!(again.get("s").unwrap(), c.get("s").unwrap());
}

#[tokio::test]
async fn time_travel_by_timestamp() {
    let c = open(Arc::new(MemStore::new()), Settings::default()).await;
    c.register(register("s", &["datasets/s/a.parquet"]), "r")
        .await
        .unwrap();
    let between = crate::time::rfc3339(crate::time::now_ms());
    tokio::time::sleep(Duration::from_millis(5)).await;
    c.register(register("s", &["datasets/s/b.parquet"]), "r")
        .await
        .unwrap();
    let then = c.get_at("s", &AsOf::Time(between)).unwrap();
    assert_eq!(keys(&then), ["datasets/s/a.parquet"]);
    assert!(matches!(
        c.get_at("s", &AsOf::Time("2001-01-01T00:00:00Z".into())),
        Err(CatalogError::NotFound(_))
    ));
    assert_eq!(
        c.resolve(&AsOf::Time("last tuesday".into()))
            .err()
            .as_ref()
            .and_then(code),
        Some("invalid_as_of")
    );
    let (all, v, expired) = c.list_at(&AsOf::Version(1)).unwrap();
    assert_eq!((all.len(), v, expired.len()), (1, 1, 0));
}

#[tokio::test]
async fn the_layout_before_versions_is_imported_once() {
    let store = Arc::new(MemStore::new());
    let m = serde_json::json!({
        "name": "old", "schema_fingerprint": "fp", "schema": [{"name": "id", "type": "BIGINT"}],
        "objects": [{"key": "datasets/old/a.parquet", "size": 1, "row_count": 3}],
        "row_count": 3, "version": 7, "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z"
    });
    store.put_aged("_catalog/manifests/old.json", m.to_string().as_bytes(), 0);
    store.put_aged("_catalog/manifests/bad.json", b"{", 0);
    let c = open(store.clone(), Settings::default()).await;
    let got = c.get("old").unwrap();
    assert_eq!((got.version, got.catalog_version, got.row_count), (7, 1, 3));
    assert!(c.skipped().iter().any(|s| s.contains("bad.json")));
    c.append(append("old", &["datasets/old/b.parquet"]), "r")
        .await
        .unwrap();
    let again = open(store, Settings::default()).await;
    assert_eq!(again.version(), 2);
    assert_eq!(again.get("old").unwrap().objects.len(), 2);
}

#[tokio::test]
async fn the_rules_still_hold() {
    let c = open(Arc::new(MemStore::new()), Settings::default()).await;
    c.register(register("Sales", &["datasets/Sales/a.parquet"]), "r")
        .await
        .unwrap();
    let err = c
        .register(register("sales", &["datasets/sales/a.parquet"]), "r")
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some("name_conflict"), "{err}");
    let err = c
        .register(register("x", &["datasets/other/a.parquet"]), "r")
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some("invalid_key"), "{err}");
    let mut bad = register("x", &["datasets/x/a.parquet"]);
    bad.schema_fingerprint = "other".into();
    c.register(register("x", &["datasets/x/a.parquet"]), "r")
        .await
        .unwrap();
    let err = c.register(bad, "r").await.unwrap_err();
    assert_eq!(code(&err), Some("schema_mismatch"), "{err}");
    let same = c
        .register(register("x", &["datasets/x/a.parquet"]), "r")
        .await
        .unwrap();
    assert!(same.response.existing && !same.created);
    assert_eq!(c.version(), 2, "an unchanged register is not a commit");
}
