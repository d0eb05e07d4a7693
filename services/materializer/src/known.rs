//! The evidence ids already in the dataset, so a re-run writes nothing new. Each evidence
//! object has a sidecar `_materializer/ids/<batch-hash>.ids` (a magic line, then 16 bytes per
//! id). Only objects the manifest lists count: a sidecar left by a run that died before
//! publishing hides nothing. An object whose sidecar is missing is read for its ids.

use std::collections::HashSet;
use std::path::Path;

use futures::StreamExt;
use lakehouse_client::Gateway;
use lakehouse_types::{Manifest, ObjectKey};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::canonical::id_bytes;

/// First bytes of a sidecar.
pub const MAGIC: &[u8] = b"LHIDS1\n";

/// An id.
pub type Id = [u8; 16];

/// The sidecar key of an evidence object key (`evidence/day=…/<hash>.parquet`).
pub fn sidecar_key(object_key: &str) -> String {
    let stem = object_key
        .rsplit('/')
        .next()
        .unwrap_or(object_key)
        .trim_end_matches(".parquet");
    format!("_materializer/ids/{stem}.ids")
}

/// A sidecar's bytes.
pub fn encode(ids: &[Id]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + ids.len() * 16);
    out.extend_from_slice(MAGIC);
    for id in ids {
        out.extend_from_slice(id);
    }
    out
}

/// The ids in a sidecar.
pub fn decode(bytes: &[u8]) -> Result<Vec<Id>, String> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or("not an id sidecar (bad magic)")?;
    if body.len() % 16 != 0 {
        return Err(format!("a sidecar of {} bytes is torn", bytes.len()));
    }
    Ok(body
        .chunks_exact(16)
        .map(|c| {
            let mut id = [0u8; 16];
            id.copy_from_slice(c);
            id
        })
        .collect())
}

/// The `evidence_id` column of a Parquet file.
pub fn ids_in_parquet(path: &Path) -> Result<Vec<Id>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let col = b
        .schema()
        .index_of("evidence_id")
        .map_err(|e| e.to_string())?;
    let mask = ProjectionMask::roots(b.parquet_schema(), [col]);
    let reader = b.with_projection(mask).build().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let arr = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .ok_or("evidence_id is not a string column")?;
        for s in arr.iter().flatten() {
            out.push(id_bytes(s).ok_or_else(|| format!("bad evidence_id '{s}'"))?);
        }
    }
    Ok(out)
}

async fn ids_of(gw: &Gateway, key: &str, tmp: &Path, rid: &str) -> Result<Vec<Id>, String> {
    let sidecar = ObjectKey::parse(sidecar_key(key)).map_err(|e| e.to_string())?;
    match gw.storage.get(&sidecar, rid).await {
        Ok(bytes) => return decode(&bytes).map_err(|e| format!("{sidecar}: {e}")),
        Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {}
        Err(e) => return Err(format!("{sidecar}: {e}")),
    }
    tracing::info!(object = key, "no id sidecar; reading the object's ids");
    let object = ObjectKey::parse(key.to_owned()).map_err(|e| e.to_string())?;
    let path = tmp.join(format!("known-{}.parquet", uuid_like(key)));
    let mut f = tokio::fs::File::create(&path)
        .await
        .map_err(|e| e.to_string())?;
    gw.storage
        .get_to_file(&object, &mut f, rid)
        .await
        .map_err(|e| format!("{key}: {e}"))?;
    drop(f);
    let p = path.clone();
    let ids = tokio::task::spawn_blocking(move || ids_in_parquet(&p))
        .await
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    ids.map_err(|e| format!("{key}: {e}"))
}

fn uuid_like(key: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..8])
}

/// Every id in the objects `manifest` lists.
pub async fn load(
    gw: &Gateway,
    manifest: Option<&Manifest>,
    tmp: &Path,
    rid: &str,
) -> Result<HashSet<Id>, String> {
    let Some(m) = manifest else {
        return Ok(HashSet::new());
    };
    let mut set = HashSet::with_capacity(m.row_count as usize);
    let mut results = futures::stream::iter(m.objects.iter())
        .map(|o| ids_of(gw, &o.key, tmp, rid))
        .buffer_unordered(8);
    while let Some(r) = results.next().await {
        set.extend(r?);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_round_trip_and_refuse_garbage() {
        let ids = vec![[1u8; 16], [2u8; 16]];
        assert_eq!(decode(&encode(&ids)).unwrap(), ids);
        assert!(decode(b"nope").is_err());
        let mut torn = encode(&ids);
        torn.pop();
        assert!(decode(&torn).is_err());
        assert_eq!(
            sidecar_key("evidence/day=2026-11-21/abc.parquet"),
            "_materializer/ids/abc.ids"
        );
    }
}
