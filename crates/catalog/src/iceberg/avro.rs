//! Iceberg manifests and manifest lists: Avro object container files whose schemas carry
//! Iceberg's `field-id`s (readers match fields by id and refuse files without them).
//!
//! Only the required fields are written (no column statistics): readers then plan every file
//! of a snapshot, which is what a table without partitions needs.

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::{Schema, Writer};
use sha2::{Digest, Sha256};

/// One data file in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataFile {
    /// Absolute location.
    pub(crate) path: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
}

/// One manifest in a manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestRef {
    /// Absolute location.
    pub(crate) path: String,
    /// Bytes of the manifest file.
    pub(crate) length: u64,
    /// The snapshot that added it; also its sequence number (ours are catalog versions).
    pub(crate) snapshot: u64,
    pub(crate) files: u64,
    pub(crate) rows: u64,
}

const MANIFEST_ENTRY: &str = r#"{"type":"record","name":"manifest_entry","fields":[
 {"name":"status","type":"int","field-id":0},
 {"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},
 {"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},
 {"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},
 {"name":"data_file","field-id":2,"type":{"type":"record","name":"r2","fields":[
  {"name":"content","type":"int","field-id":134},
  {"name":"file_path","type":"string","field-id":100},
  {"name":"file_format","type":"string","field-id":101},
  {"name":"partition","field-id":102,"type":{"type":"record","name":"r102","fields":[]}},
  {"name":"record_count","type":"long","field-id":103},
  {"name":"file_size_in_bytes","type":"long","field-id":104}]}}]}"#;

const MANIFEST_FILE: &str = r#"{"type":"record","name":"manifest_file","fields":[
 {"name":"manifest_path","type":"string","field-id":500},
 {"name":"manifest_length","type":"long","field-id":501},
 {"name":"partition_spec_id","type":"int","field-id":502},
 {"name":"content","type":"int","field-id":517},
 {"name":"sequence_number","type":"long","field-id":515},
 {"name":"min_sequence_number","type":"long","field-id":516},
 {"name":"added_snapshot_id","type":"long","field-id":503},
 {"name":"added_files_count","type":"int","field-id":504},
 {"name":"existing_files_count","type":"int","field-id":505},
 {"name":"deleted_files_count","type":"int","field-id":506},
 {"name":"added_rows_count","type":"long","field-id":512},
 {"name":"existing_rows_count","type":"long","field-id":513},
 {"name":"deleted_rows_count","type":"long","field-id":514}]}"#;

#[allow(clippy::unwrap_used)] // constant text, parsed by a test
static ENTRY_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::parse_str(MANIFEST_ENTRY).unwrap());
#[allow(clippy::unwrap_used)] // constant text, parsed by a test
static LIST_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse_str(MANIFEST_FILE).unwrap());

/// Status of a manifest entry: added in the manifest's snapshot.
const ADDED: i32 = 1;

fn long(n: u64) -> Value {
    Value::Long(i64::try_from(n).unwrap_or(i64::MAX))
}

fn int(n: u64) -> Value {
    Value::Int(i32::try_from(n).unwrap_or(i32::MAX))
}

fn marker(key: &str) -> [u8; 16] {
    let d = Sha256::digest(key.as_bytes());
    let mut m = [0u8; 16];
    m.copy_from_slice(&d[..16]);
    m
}

fn write(
    schema: &Schema,
    key: &str,
    metadata: &[(&str, String)],
    rows: Vec<Value>,
) -> Result<Vec<u8>, String> {
    // `avro.codec` is written even though it is the default: PyIceberg reads a missing one as
    // gzip, which it then cannot decode.
    let mut meta: std::collections::HashMap<String, Value> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::Bytes(v.clone().into_bytes())))
        .collect();
    meta.insert("avro.codec".into(), Value::Bytes(b"null".to_vec()));
    let mut w = Writer::builder()
        .schema(schema)
        .writer(Vec::new())
        .marker(marker(key))
        .user_metadata(meta)
        .build()
        .map_err(|e| e.to_string())?;
    for r in rows {
        w.append_value(r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// A manifest of `files`, all added by `snapshot`. `schema_json` is the table schema they
/// were written with (Iceberg's file-level `schema` key).
pub(crate) fn manifest(
    key: &str,
    snapshot: u64,
    schema_json: &str,
    schema_id: i64,
    files: &[DataFile],
) -> Result<Vec<u8>, String> {
    let rows = files
        .iter()
        .map(|f| {
            Value::Record(vec![
                ("status".into(), Value::Int(ADDED)),
                (
                    "snapshot_id".into(),
                    Value::Union(1, Box::new(long(snapshot))),
                ),
                (
                    "sequence_number".into(),
                    Value::Union(1, Box::new(long(snapshot))),
                ),
                (
                    "file_sequence_number".into(),
                    Value::Union(1, Box::new(long(snapshot))),
                ),
                (
                    "data_file".into(),
                    Value::Record(vec![
                        ("content".into(), Value::Int(0)),
                        ("file_path".into(), Value::String(f.path.clone())),
                        ("file_format".into(), Value::String("PARQUET".into())),
                        ("partition".into(), Value::Record(Vec::new())),
                        ("record_count".into(), long(f.rows)),
                        ("file_size_in_bytes".into(), long(f.bytes)),
                    ]),
                ),
            ])
        })
        .collect();
    let meta = [
        ("schema", schema_json.to_owned()),
        ("schema-id", schema_id.to_string()),
        ("partition-spec", "[]".to_owned()),
        ("partition-spec-id", "0".to_owned()),
        ("format-version", "2".to_owned()),
        ("content", "data".to_owned()),
    ];
    write(&ENTRY_SCHEMA, key, &meta, rows)
}

/// The manifest list of `snapshot` (child of `parent`).
pub(crate) fn manifest_list(
    key: &str,
    snapshot: u64,
    parent: Option<u64>,
    manifests: &[ManifestRef],
) -> Result<Vec<u8>, String> {
    let rows = manifests
        .iter()
        .map(|m| {
            Value::Record(vec![
                ("manifest_path".into(), Value::String(m.path.clone())),
                ("manifest_length".into(), long(m.length)),
                ("partition_spec_id".into(), Value::Int(0)),
                ("content".into(), Value::Int(0)),
                ("sequence_number".into(), long(m.snapshot)),
                ("min_sequence_number".into(), long(m.snapshot)),
                ("added_snapshot_id".into(), long(m.snapshot)),
                ("added_files_count".into(), int(m.files)),
                ("existing_files_count".into(), Value::Int(0)),
                ("deleted_files_count".into(), Value::Int(0)),
                ("added_rows_count".into(), long(m.rows)),
                ("existing_rows_count".into(), Value::Long(0)),
                ("deleted_rows_count".into(), Value::Long(0)),
            ])
        })
        .collect();
    let meta = [
        ("snapshot-id", snapshot.to_string()),
        (
            "parent-snapshot-id",
            parent.map_or_else(|| "null".to_owned(), |p| p.to_string()),
        ),
        ("sequence-number", snapshot.to_string()),
        ("format-version", "2".to_owned()),
    ];
    write(&LIST_SCHEMA, key, &meta, rows)
}

/// A container file's user metadata, sorted by key.
#[cfg(test)]
pub(crate) type Metadata = Vec<(String, String)>;

/// The records of an Avro container file and its user metadata (for tests and checks).
#[cfg(test)]
pub(crate) fn read(bytes: &[u8]) -> Result<(Vec<Value>, Metadata), String> {
    let r = apache_avro::Reader::new(bytes).map_err(|e| e.to_string())?;
    let mut meta: Vec<(String, String)> = r
        .user_metadata()
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    meta.sort();
    let rows = r
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((rows, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
        match v {
            Value::Record(f) => &f.iter().find(|(n, _)| n == name).unwrap().1,
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn schemas_keep_their_field_ids() {
        for text in [MANIFEST_ENTRY, MANIFEST_FILE] {
            let canonical = serde_json::to_string(&Schema::parse_str(text).unwrap()).unwrap();
            assert!(
                canonical.contains("\"field-id\":500") || canonical.contains("\"field-id\":134"),
                "{canonical}"
            );
        }
    }

    #[test]
    fn manifests_and_lists_round_trip() {
        let files = [
            DataFile {
                path: "file:///r/datasets/a/1.parquet".into(),
                rows: 3,
                bytes: 100,
            },
            DataFile {
                path: "file:///r/datasets/a/2.parquet".into(),
                rows: 4,
                bytes: 200,
            },
        ];
        let a = manifest("k", 7, "{}", 0, &files).unwrap();
        let (rows, meta) = read(&a).unwrap();
        assert_eq!(
            (rows.clone(), meta.clone()),
            read(&manifest("k", 7, "{}", 0, &files).unwrap()).unwrap()
        );
        assert_eq!(rows.len(), 2);
        let df = field(&rows[1], "data_file");
        assert_eq!(
            field(df, "file_path"),
            &Value::String(files[1].path.clone())
        );
        assert_eq!(field(df, "record_count"), &Value::Long(4));
        assert_eq!(
            field(&rows[0], "snapshot_id"),
            &Value::Union(1, Box::new(Value::Long(7)))
        );
        assert!(meta.contains(&("format-version".into(), "2".into())));
        // The header spells the codec out: key, then the length-prefixed (zigzag 4) "null".
        assert!(
            a.windows(16).any(|w| w == b"\x14avro.codec\x08null"),
            "no avro.codec"
        );

        let refs = [ManifestRef {
            path: "file:///m.avro".into(),
            length: a.len() as u64,
            snapshot: 7,
            files: 2,
            rows: 7,
        }];
        let list = manifest_list("l", 9, Some(7), &refs).unwrap();
        let (rows, meta) = read(&list).unwrap();
        assert_eq!(
            field(&rows[0], "manifest_length"),
            &Value::Long(a.len() as i64)
        );
        assert_eq!(field(&rows[0], "added_rows_count"), &Value::Long(7));
        assert!(meta.contains(&("parent-snapshot-id".into(), "7".into())));
    }
}
