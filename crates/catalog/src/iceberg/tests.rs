use apache_avro::types::Value as Avro;
use lakehouse_types::{ChangeOp, Column, DataObject};

use super::*;
use crate::record::{BodyRecord, SnapRecord};
use std::collections::HashMap;

const ROOT: &str = "file:///srv/objects";

fn obj(key: &str, rows: u64) -> DataObject {
    DataObject {
        key: key.into(),
        size: rows * 10,
        row_count: rows,
    }
}

fn snap(
    v: u64,
    parent: Option<u64>,
    op: ChangeOp,
    objects: Option<Objects>,
    cols: &[&str],
) -> Snap {
    let body = objects.map(|objects| BodyRecord {
        schema_fingerprint: cols.join(","),
        schema: cols
            .iter()
            .map(|c| Column {
                name: (*c).into(),
                ty: "BIGINT".into(),
                nullable: true,
            })
            .collect(),
        row_count: 0,
        seq: v,
        created_at: String::new(),
        updated_at: String::new(),
        objects,
    });
    Snap {
        rec: SnapRecord {
            version: v,
            parent,
            op,
            time: String::new(),
            rollback_of: None,
            body,
        },
        time_ms: 1_000 + v as i64,
    }
}

fn list_paths(t: &Table, key: &str) -> Vec<String> {
    let f = t.files.iter().find(|f| f.key == key).expect(key);
    let (rows, _) = read_avro(&f.bytes).unwrap();
    rows.iter()
        .map(|r| match r {
            Avro::Record(fields) => match &fields[0].1 {
                Avro::String(s) => s.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect()
}

fn history() -> Vec<Snap> {
    vec![
        snap(
            1,
            None,
            ChangeOp::Create,
            Some(Objects::Full(vec![obj("datasets/a/1.parquet", 3)])),
            &["id"],
        ),
        snap(
            2,
            Some(1),
            ChangeOp::Append,
            Some(Objects::Added(vec![obj("datasets/a/2.parquet", 4)])),
            &["id"],
        ),
        snap(
            4,
            Some(2),
            ChangeOp::Append,
            Some(Objects::Added(vec![obj("datasets/a/3.parquet", 5)])),
            &["id"],
        ),
        snap(
            6,
            Some(4),
            ChangeOp::Replace,
            Some(Objects::Full(vec![obj("datasets/a/9.parquet", 7)])),
            &["id", "score"],
        ),
    ]
}

#[test]
fn appends_share_their_parents_manifests_and_a_replace_starts_over() {
    let snaps = history();
    let t = table("a", ROOT, 1, &snaps, &HashMap::new())
        .unwrap()
        .unwrap();
    assert_eq!(t.head, 6);
    assert_eq!(t.metadata_key, "datasets/a/metadata/v6.metadata.json");
    let m = &t.metadata;
    let snapshots = m["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 4);
    assert_eq!(snapshots[2]["parent-snapshot-id"], 2);
    assert!(snapshots[0].get("parent-snapshot-id").is_none());
    assert_eq!(snapshots[2]["summary"]["total-records"], "12");
    assert_eq!(snapshots[2]["summary"]["operation"], "append");
    assert_eq!(snapshots[3]["summary"]["operation"], "overwrite");
    assert_eq!(snapshots[3]["summary"]["total-records"], "7");
    assert_eq!(m["current-snapshot-id"], 6);
    assert_eq!(m["current-schema-id"], 1);
    assert_eq!(m["schemas"].as_array().unwrap().len(), 2);
    assert_eq!(m["last-column-id"], 2);
    assert_eq!(m["location"], "file:///srv/objects/datasets/a");

    // The list of snapshot 4 names three manifests (1's, 2's, its own); 6's only its own.
    let list4 = snapshots[2]["manifest-list"].as_str().unwrap();
    let key4 = list4.strip_prefix("file:///srv/objects/").unwrap();
    let paths = list_paths(&t, key4);
    assert_eq!(paths.len(), 3);
    assert!(paths[0].contains("00000000000000000001-full-"), "{paths:?}");
    assert!(paths[2].contains("00000000000000000004-add-"), "{paths:?}");
    let key6 = snapshots[3]["manifest-list"]
        .as_str()
        .unwrap()
        .strip_prefix("file:///srv/objects/")
        .unwrap();
    assert_eq!(list_paths(&t, key6).len(), 1);

    // Every file written is one garbage collection keeps; the same history, the same table.
    let keep = keys("a", ROOT, &snaps);
    for f in &t.files {
        assert!(keep.contains(&f.key), "{} not kept", f.key);
    }
    assert!(keep.contains(&t.metadata_key) && keep.contains(&version_hint_key("a")));
    let again = table("a", ROOT, 1, &snaps, &HashMap::new())
        .unwrap()
        .unwrap();
    assert_eq!(again.metadata, t.metadata);
    let names = |t: &Table| t.files.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
    assert_eq!(names(&again), names(&t));
    // With its files stored, only the metadata is made again, and it is the same.
    let stored: HashMap<String, u64> = t
        .files
        .iter()
        .map(|f| (f.key.clone(), f.bytes.len() as u64))
        .collect();
    let warm = table("a", ROOT, 1, &snaps, &stored).unwrap().unwrap();
    assert!(warm.files.is_empty());
    assert_eq!(warm.metadata, t.metadata);
}

#[test]
fn another_root_gives_other_files_and_a_delete_has_no_table() {
    let snaps = history();
    let a = keys("a", ROOT, &snaps);
    let b = keys("a", "s3://bucket", &snaps);
    let avro = |k: &Vec<String>| {
        k.iter()
            .filter(|k| k.ends_with(".avro"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(avro(&a).iter().all(|k| !avro(&b).contains(k)));

    let mut deleted = snaps;
    deleted.push(snap(7, Some(6), ChangeOp::Delete, None, &[]));
    assert!(
        table("a", ROOT, 1, &deleted, &HashMap::new())
            .unwrap()
            .is_none()
    );
    // Still kept while retained: a rollback can bring the table back.
    assert!(keys("a", ROOT, &deleted).len() >= a.len());
}

#[test]
fn an_append_whose_parent_is_gone_is_refused_not_misread() {
    let snaps = vec![snap(
        5,
        Some(4),
        ChangeOp::Append,
        Some(Objects::Added(vec![obj("datasets/a/2.parquet", 4)])),
        &["id"],
    )];
    let e = table("a", ROOT, 1, &snaps, &HashMap::new()).unwrap_err();
    assert!(e.contains("not retained"), "{e}");
    assert!(keys("a", ROOT, &snaps).is_empty());
}

#[test]
fn table_uuids_are_stable_and_well_formed() {
    let u = table_uuid("a", 1);
    assert_eq!(u, table_uuid("a", 1));
    assert_ne!(u, table_uuid("a", 2));
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "5");
}
