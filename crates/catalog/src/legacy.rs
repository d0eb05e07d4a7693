//! The layout before versions: one manifest object per dataset. A store that holds only
//! that is imported once, as commit 1, and the manifests are left in place untouched.

use lakehouse_types::{ChangeOp, Manifest};

use crate::CatalogError;
use crate::record::{BodyRecord, ChangeRecord, CommitRecord, FORMAT, Objects, SnapRecord};
use crate::rules::stored_manifest_error;
use crate::store::{self, LEGACY_PREFIX, ObjectStore};
use crate::time::{now_ms, rfc3339};

/// The import commit, if there is anything to import, and what was skipped.
pub(crate) async fn import<S: ObjectStore>(
    s: &S,
) -> Result<(Option<CommitRecord>, Vec<String>), CatalogError> {
    let storage = |e: store::StoreError| CatalogError::Storage(e.0);
    let mut skipped = Vec::new();
    let mut manifests = Vec::new();
    for o in store::list_all(s, LEGACY_PREFIX).await.map_err(storage)? {
        let key = o.key;
        let Some(name) = key
            .strip_prefix(LEGACY_PREFIX)
            .and_then(|k| k.strip_suffix(".json"))
        else {
            skipped.push(format!("{key}: not a manifest name"));
            continue;
        };
        let Some(bytes) = s.get(&key).await.map_err(storage)? else {
            continue;
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.name == name => match stored_manifest_error(&m) {
                Some(e) => skipped.push(format!("{key}: {e}")),
                None => manifests.push(m),
            },
            Ok(m) => skipped.push(format!("{key}: holds the manifest of '{}'", m.name)),
            Err(e) => skipped.push(format!("{key}: corrupt manifest: {e}")),
        }
    }
    if manifests.is_empty() {
        return Ok((None, skipped));
    }
    let time = rfc3339(now_ms());
    let changes = manifests
        .into_iter()
        .map(|m| ChangeRecord::Dataset {
            name: m.name.clone(),
            snapshot: SnapRecord {
                version: 1,
                parent: None,
                op: ChangeOp::Import,
                time: time.clone(),
                rollback_of: None,
                body: Some(BodyRecord {
                    schema_fingerprint: m.schema_fingerprint,
                    schema: m.schema,
                    row_count: m.row_count,
                    seq: m.version,
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                    objects: Objects::Full(m.objects),
                }),
            },
        })
        .collect();
    let commit = CommitRecord {
        format: FORMAT,
        version: 1,
        time,
        request_id: "import".into(),
        changes,
        leader_epoch: None,
    };
    Ok((Some(commit), skipped))
}
