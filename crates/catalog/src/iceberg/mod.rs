//! Every dataset as an Apache Iceberg (format v2) table over its own Parquet objects: each
//! retained snapshot with a body is an Iceberg snapshot (snapshot id and sequence number are
//! the catalog version that made it), described by files written next to the data under
//! `datasets/<name>/metadata/`:
//!
//! - `<version>-<kind>-<h>-m0.avro`: the manifest of the objects the snapshot added (an
//!   append) or of all its objects (`full`: a create, replace or rollback);
//! - `snap-<version>-<h>.avro`: its manifest list, the parent's manifests plus its own for an
//!   append, as Iceberg's own fast append does;
//! - `v<version>.metadata.json`: the table metadata at that snapshot, and `version-hint.text`
//!   naming the newest, so a reader can also open the table from storage alone.
//!
//! Locations inside these files are absolute (`file:///…` or `s3://bucket/…`), so the names
//! carry a hash `h` of the storage root (and of the manifests a list names): moving the data
//! (a restore elsewhere) or a history rewritten by retention gives new files instead of
//! stale ones. Everything here is a pure function of the retained history; the catalog
//! writes what is missing.

mod avro;
mod schema;

use std::collections::HashMap;

use lakehouse_types::{ChangeOp, DataObject};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::lineage::Snap;
use crate::record::Objects;
use avro::{DataFile, ManifestRef};
use schema::FieldIds;

#[cfg(test)]
pub(crate) use avro::read as read_avro;

/// The namespace every dataset is a table of.
pub const NAMESPACE: &str = "lakehouse";

/// Where a dataset's Iceberg files live.
pub fn metadata_prefix(dataset: &str) -> String {
    format!("datasets/{dataset}/metadata/")
}

/// The dataset whose Iceberg files `key` is among, if it is one.
pub(crate) fn table_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("datasets/")?;
    let (name, file) = rest.split_once("/metadata/")?;
    (!name.contains('/') && !file.contains('/')).then_some(name)
}

/// The key of the file that names the newest metadata version.
pub fn version_hint_key(dataset: &str) -> String {
    format!("{}version-hint.text", metadata_prefix(dataset))
}

/// The key of the table metadata at snapshot `version`.
pub fn metadata_key(dataset: &str, version: u64) -> String {
    format!("{}v{version}.metadata.json", metadata_prefix(dataset))
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex_prefix(&h.finalize(), 8)
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes
        .iter()
        .take(n.div_ceil(2))
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..n]
        .to_owned()
}

/// A stable table uuid, derived from the dataset name and the first snapshot it ever had (the
/// catalog keeps that for every name it has seen), so every load answers the same.
fn table_uuid(dataset: &str, first_version: u64) -> String {
    let d = Sha256::digest(format!("lakehouse-table\0{dataset}\0{first_version}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 (name-based, SHA)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex_prefix(&b, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// One file to write.
#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) key: String,
    pub(crate) bytes: Vec<u8>,
}

/// A dataset's Iceberg table: the Avro files of its retained snapshots not yet stored
/// (manifests before the lists that name them) and the metadata at its newest.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) files: Vec<File>,
    pub(crate) head: u64,
    pub(crate) metadata_key: String,
    pub(crate) metadata: Value,
}

/// Where one snapshot's manifest and list are, without encoding them.
struct Names {
    manifest: String,
    list: String,
    /// Keys of every manifest the list names.
    manifests: Vec<String>,
}

fn objects(s: &Snap) -> Option<(&Objects, bool)> {
    let b = s.rec.body.as_ref()?;
    Some((&b.objects, matches!(b.objects, Objects::Full(_))))
}

/// The names of each retained snapshot's files, by version; `None` for a snapshot that is
/// a delete.
fn names(dataset: &str, root: &str, snaps: &[Snap]) -> Result<Vec<Option<Names>>, String> {
    let prefix = metadata_prefix(dataset);
    let root_hash = short_hash(&[root]);
    let mut by_version: HashMap<u64, usize> = HashMap::new();
    let mut out: Vec<Option<Names>> = Vec::with_capacity(snaps.len());
    for (i, s) in snaps.iter().enumerate() {
        let Some((_, full)) = objects(s) else {
            out.push(None);
            continue;
        };
        let v = s.rec.version;
        let kind = if full { "full" } else { "add" };
        let manifest = format!("{prefix}{v:020}-{kind}-{root_hash}-m0.avro");
        let mut manifests = if full {
            Vec::new()
        } else {
            // An append's parent is always retained (retention makes a kept append whole).
            s.rec
                .parent
                .and_then(|p| by_version.get(&p))
                .and_then(|&p| out[p].as_ref())
                .map(|n| n.manifests.clone())
                .ok_or_else(|| {
                    format!(
                        "snapshot {v} of '{dataset}' appends to a snapshot that is not retained"
                    )
                })?
        };
        manifests.push(manifest.clone());
        let mut parts: Vec<&str> = vec![root];
        parts.extend(manifests.iter().map(String::as_str));
        let list = format!("{prefix}snap-{v:020}-{}.avro", short_hash(&parts));
        by_version.insert(v, i);
        out.push(Some(Names {
            manifest,
            list,
            manifests,
        }));
    }
    Ok(out)
}

/// Every key the table's retained snapshots need, for garbage collection to keep.
/// (A history that cannot be a table keeps nothing: its files are derived and rewritten.)
pub(crate) fn keys(dataset: &str, root: &str, snaps: &[Snap]) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(names) = names(dataset, root, snaps) else {
        return out;
    };
    for n in names.into_iter().flatten() {
        out.push(n.manifest);
        out.push(n.list);
    }
    // The metadata of the newest snapshot with data: it lists every retained snapshot.
    // Older metadata files name files retention may since have replaced, so they go.
    if let Some(s) = snaps.iter().rev().find(|s| s.rec.body.is_some()) {
        out.push(metadata_key(dataset, s.rec.version));
        out.push(version_hint_key(dataset));
    }
    out
}

fn location(root: &str, key: &str) -> String {
    format!("{root}/{key}")
}

/// The table of `dataset` over its retained snapshots `snaps` (ascending), or `None` when its
/// newest snapshot is a delete (no table now). `stored` holds the keys (and sizes) of files
/// already in storage: those are not encoded again.
pub(crate) fn table(
    dataset: &str,
    root: &str,
    first_version: u64,
    snaps: &[Snap],
    stored: &HashMap<String, u64>,
) -> Result<Option<Table>, String> {
    let Some(head) = snaps.last().filter(|s| s.rec.body.is_some()) else {
        return Ok(None);
    };
    let names = names(dataset, root, snaps)?;
    let mut ids = FieldIds::default();
    for s in snaps {
        if let Some(b) = &s.rec.body {
            ids.see(&b.schema);
        }
    }
    let mut schema_ids: Vec<(Vec<(String, String)>, Value)> = Vec::new();
    let mut files = Vec::new();
    let mut refs: HashMap<String, ManifestRef> = HashMap::new();
    let mut totals: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    let mut snapshots = Vec::new();
    let mut log = Vec::new();
    let mut current_schema = 0;
    for (s, n) in snaps.iter().zip(&names) {
        let (Some(b), Some(n)) = (&s.rec.body, n) else {
            continue;
        };
        let v = s.rec.version;
        let shape: Vec<(String, String)> = b
            .schema
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        let schema_id = match schema_ids.iter().position(|(sh, _)| *sh == shape) {
            Some(i) => i,
            None => {
                let json = ids.schema(schema_ids.len() as i64, &b.schema);
                schema_ids.push((shape, json));
                schema_ids.len() - 1
            }
        };
        current_schema = schema_id;
        let added: &[DataObject] = match &b.objects {
            Objects::Full(o) | Objects::Added(o) => o,
        };
        let data: Vec<DataFile> = added
            .iter()
            .map(|o| DataFile {
                path: location(root, &o.key),
                rows: o.row_count,
                bytes: o.size,
            })
            .collect();
        let schema_text = schema_ids[schema_id].1.to_string();
        // Only what is not stored yet is encoded: a long history costs a commit its own files.
        let length = match stored.get(&n.manifest) {
            Some(len) => *len,
            None => {
                let bytes = avro::manifest(&n.manifest, v, &schema_text, schema_id as i64, &data)?;
                let len = bytes.len() as u64;
                files.push(File {
                    key: n.manifest.clone(),
                    bytes,
                });
                len
            }
        };
        let added_rows: u64 = data.iter().map(|d| d.rows).sum();
        let added_bytes: u64 = data.iter().map(|d| d.bytes).sum();
        refs.insert(
            n.manifest.clone(),
            ManifestRef {
                path: location(root, &n.manifest),
                length,
                snapshot: v,
                files: data.len() as u64,
                rows: added_rows,
            },
        );
        let list_refs: Vec<ManifestRef> = n
            .manifests
            .iter()
            .map(|k| {
                refs.get(k)
                    .cloned()
                    .ok_or_else(|| format!("manifest {k} of snapshot {v} is not retained"))
            })
            .collect::<Result<_, _>>()?;
        let parent = s.rec.parent.filter(|p| totals.contains_key(p));
        if !stored.contains_key(&n.list) {
            files.push(File {
                key: n.list.clone(),
                bytes: avro::manifest_list(&n.list, v, parent, &list_refs)?,
            });
        }
        let total = list_refs
            .iter()
            .fold((0, 0, 0), |(f, r, _), m| (f + m.files, r + m.rows, 0));
        let total_bytes = if n.manifests.len() > 1 {
            parent.and_then(|p| totals.get(&p)).map_or(0, |t| t.2) + added_bytes
        } else {
            added_bytes
        };
        totals.insert(v, (total.0, total.1, total_bytes));
        // From what the commit did, not from how its objects are recorded now (retention
        // may have made a kept append whole): a snapshot's operation never changes.
        let operation = match s.rec.op {
            ChangeOp::Create | ChangeOp::Import | ChangeOp::Append => "append",
            _ => "overwrite",
        };
        let mut snapshot = json!({
            "snapshot-id": v,
            "sequence-number": v,
            "timestamp-ms": s.time_ms,
            "manifest-list": location(root, &n.list),
            "schema-id": schema_id,
            "summary": {
                "operation": operation,
                "added-data-files": data.len().to_string(),
                "added-records": added_rows.to_string(),
                "added-files-size": added_bytes.to_string(),
                "total-data-files": total.0.to_string(),
                "total-records": total.1.to_string(),
                "total-files-size": total_bytes.to_string(),
                "total-delete-files": "0",
                "total-position-deletes": "0",
                "total-equality-deletes": "0",
                "lakehouse.op": op_name(s.rec.op),
            },
        });
        if let Some(p) = parent {
            snapshot["parent-snapshot-id"] = json!(p);
        }
        snapshots.push(snapshot);
        log.push(json!({"timestamp-ms": s.time_ms, "snapshot-id": v}));
    }
    let v = head.rec.version;
    let metadata = json!({
        "format-version": 2,
        "table-uuid": table_uuid(dataset, first_version),
        "location": location(root, &format!("datasets/{dataset}")),
        "last-sequence-number": v,
        "last-updated-ms": head.time_ms,
        "last-column-id": ids.last(),
        "current-schema-id": current_schema,
        "schemas": schema_ids.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
        "default-spec-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}],
        "last-partition-id": 999,
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {
            "schema.name-mapping.default": ids.name_mapping(),
            "write.format.default": "parquet",
            "lakehouse.dataset": dataset,
            "lakehouse.catalog-version": v.to_string(),
        },
        "current-snapshot-id": v,
        "refs": {"main": {"snapshot-id": v, "type": "branch"}},
        "snapshots": snapshots,
        "snapshot-log": log,
        "metadata-log": [],
    });
    Ok(Some(Table {
        files,
        head: v,
        metadata_key: metadata_key(dataset, v),
        metadata,
    }))
}

fn op_name(op: ChangeOp) -> &'static str {
    match op {
        ChangeOp::Create => "create",
        ChangeOp::Replace => "replace",
        ChangeOp::Append => "append",
        ChangeOp::Delete => "delete",
        ChangeOp::Rollback => "rollback",
        ChangeOp::Import => "import",
        ChangeOp::Commit => "commit",
    }
}

#[cfg(test)]
mod tests;
