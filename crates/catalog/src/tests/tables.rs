//! Datasets as Iceberg tables: files written after commits, repaired on load, kept by
//! collection while their snapshots are retained and collected after.

use std::sync::Arc;
use std::time::Duration;

use super::{append, open, register};
use crate::iceberg::{metadata_prefix, version_hint_key};
use crate::mem::MemStore;
use crate::{CatalogError, Settings};

fn settings() -> Settings {
    Settings {
        keep_for: Duration::ZERO,
        gc_grace: Duration::ZERO,
        iceberg_root: Some("file:///srv/objects".into()),
        ..Settings::default()
    }
}

fn table_files(store: &MemStore, name: &str) -> Vec<String> {
    let prefix = metadata_prefix(name);
    store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&prefix))
        .collect()
}

/// Every file the stored newest metadata names (lists, and the manifests they name) exists.
async fn assert_names_exist(store: &Arc<MemStore>, name: &str) {
    let get = |k: String| async move { crate::ObjectStore::get(store, &k).await.unwrap() };
    let hint = String::from_utf8(get(version_hint_key(name)).await.unwrap()).unwrap();
    let meta = get(format!("{}v{hint}.metadata.json", metadata_prefix(name)))
        .await
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    let key = |loc: &str| loc.strip_prefix("file:///srv/objects/").unwrap().to_owned();
    for s in meta["snapshots"].as_array().unwrap() {
        let list = get(key(s["manifest-list"].as_str().unwrap())).await;
        let list = list.unwrap_or_else(|| panic!("list of snapshot {} missing", s["snapshot-id"]));
        let (rows, _) = crate::iceberg::read_avro(&list).unwrap();
        for r in rows {
            let apache_avro::types::Value::Record(fields) = r else {
                panic!("{r:?}")
            };
            let apache_avro::types::Value::String(path) = &fields[0].1 else {
                panic!()
            };
            assert!(store.has(&key(path)), "{path} missing");
        }
    }
}

#[tokio::test]
async fn commits_write_tables_and_collection_keeps_what_retained_snapshots_need() {
    let store = Arc::new(MemStore::new());
    let c = open(
        store.clone(),
        Settings {
            keep_versions: 2,
            ..settings()
        },
    )
    .await;
    c.register(register("t", &["datasets/t/1.parquet"]), "r")
        .await
        .unwrap();
    c.publish_pending().await;
    // create: one manifest, one list, the metadata and the hint.
    assert_eq!(
        table_files(&store, "t").len(),
        4,
        "{:?}",
        table_files(&store, "t")
    );
    c.append(append("t", &["datasets/t/2.parquet"]), "r")
        .await
        .unwrap();
    c.append(append("t", &["datasets/t/3.parquet"]), "r")
        .await
        .unwrap();
    c.publish_pending().await;
    assert_names_exist(&store, "t").await;
    let t = c.iceberg_table("t").await.unwrap();
    assert_eq!(t.metadata["current-snapshot-id"], 3);
    assert_eq!(
        t.metadata_location,
        "file:///srv/objects/datasets/t/metadata/v3.metadata.json"
    );
    let hint = crate::ObjectStore::get(&store, &version_hint_key("t"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hint, b"3");
    let stored = crate::ObjectStore::get(&store, "datasets/t/metadata/v3.metadata.json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stored).unwrap(),
        t.metadata
    );

    // Retention keeps two snapshots: snapshot 1 goes, 2 becomes whole, and its files change.
    // The collection that expires them leaves the table's stored files alone (its metadata
    // still names them) and has the table written anew; the next one removes the old files.
    let before = table_files(&store, "t");
    tokio::time::sleep(Duration::from_millis(5)).await;
    c.gc().await.unwrap();
    assert_names_exist(&store, "t").await;
    assert!(table_files(&store, "t").iter().all(|k| store.has(k)));
    assert!(
        before.iter().all(|k| store.has(k)),
        "a stale table's files were collected"
    );
    c.publish_pending().await;
    assert_names_exist(&store, "t").await;
    let t = c.iceberg_table("t").await.unwrap();
    assert_eq!(t.metadata["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(t.metadata["snapshots"][0]["summary"]["operation"], "append");
    c.gc().await.unwrap();
    assert_names_exist(&store, "t").await;
    let after = table_files(&store, "t");
    assert!(
        !after
            .iter()
            .any(|k| k.contains("00000000000000000001-full")),
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .any(|k| k.contains("00000000000000000002-full")),
        "{after:?}"
    );
    assert!(after.len() < before.len() + 2, "{before:?} -> {after:?}");
    c.gc().await.unwrap();
    assert_eq!(
        table_files(&store, "t"),
        after,
        "a third collection removes nothing"
    );
}

#[tokio::test]
async fn lost_table_files_are_written_again_by_the_next_load_and_a_deleted_dataset_has_no_table() {
    let store = Arc::new(MemStore::new());
    let c = open(store.clone(), settings()).await;
    c.register(register("u", &["datasets/u/1.parquet"]), "r")
        .await
        .unwrap();
    c.append(append("u", &["datasets/u/2.parquet"]), "r")
        .await
        .unwrap();
    c.publish_pending().await;
    // As if the writes after the commit had been lost: the next load writes them again.
    for k in table_files(&store, "u") {
        if k.contains("v2.") || k.contains("snap-00000000000000000002") {
            crate::ObjectStore::delete(&store, &k).await.unwrap();
        }
    }
    assert!(!store.has("datasets/u/metadata/v2.metadata.json"));
    let c2 = open(store.clone(), settings()).await;
    let t = c2.iceberg_table("u").await.unwrap();
    assert_eq!(t.metadata["current-snapshot-id"], 2);
    assert!(store.has("datasets/u/metadata/v2.metadata.json"));

    c2.delete("u", None, "r").await.unwrap();
    assert!(matches!(
        c2.iceberg_table("u").await,
        Err(CatalogError::NotFound(_))
    ));
    assert!(matches!(
        c2.iceberg_table("nope").await,
        Err(CatalogError::NotFound(_))
    ));
    // Past retention, collection removes the table's files with the data.
    tokio::time::sleep(Duration::from_millis(5)).await;
    c2.gc().await.unwrap();
    assert!(
        table_files(&store, "u").is_empty(),
        "{:?}",
        table_files(&store, "u")
    );
}

#[tokio::test]
async fn without_a_root_no_files_are_written() {
    let store = Arc::new(MemStore::new());
    let c = open(store.clone(), Settings::default()).await;
    c.register(register("v", &["datasets/v/1.parquet"]), "r")
        .await
        .unwrap();
    c.publish_pending().await;
    assert!(table_files(&store, "v").is_empty());
    assert!(matches!(
        c.iceberg_table("v").await,
        Err(CatalogError::Conflict {
            code: "iceberg_disabled",
            ..
        })
    ));
}
