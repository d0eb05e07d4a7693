//! Backup and restore of a fleet's storage.
//!
//! A backup is a store of its own (a directory) holding copies of the objects a chosen set of
//! catalog versions needs — the catalog's log and checkpoints, every dataset object a
//! snapshot at one of those versions names, vector indexes, job receipts and id sidecars —
//! and `_backup/manifest.json`, which lists each object with its size, its source tag and its
//! sha256, checksummed itself by `_backup/manifest.sha256`. A second backup into the same
//! place copies only what changed. A restore checks every object against the manifest before
//! it writes anything, then fills an empty store.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use lakehouse_catalog::{Catalog, Settings};
use lakehouse_storage::StorageError;
use lakehouse_types::AsOf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::objects::{self, CatalogStore, Store};

/// The manifest's key in a backup.
pub const MANIFEST: &str = "_backup/manifest.json";
/// Its checksum's key.
pub const MANIFEST_SHA: &str = "_backup/manifest.sha256";
/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;
/// State copied whole, whatever the versions chosen.
const STATE_PREFIXES: [&str; 4] = ["_catalog/", "_vectors/", "_receipts/", "_materializer/"];

/// Why a backup or restore stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A store failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The catalog could not be read.
    #[error("catalog: {0}")]
    Catalog(#[from] lakehouse_catalog::CatalogError),
    /// The backup is damaged or incomplete.
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
}

/// One object in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its key (the same in the source, the backup and the restored store).
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// The source's version tag when copied (to skip it next time if unchanged).
    pub etag: String,
    /// Hex sha256 of the bytes.
    pub sha256: String,
}

/// `_backup/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The source's catalog version at the backup.
    pub catalog_version: u64,
    /// The catalog versions whose datasets the backup can serve.
    pub versions: Vec<u64>,
    /// Every object, by key.
    pub objects: Vec<Entry>,
}

/// What a backup or restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Objects in the backup.
    pub objects: u64,
    /// Objects copied this time.
    pub copied: u64,
    /// Objects already in the backup, unchanged, so not copied again.
    pub skipped: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// The catalog versions covered.
    pub versions: Vec<u64>,
    /// Wall time.
    pub elapsed_ms: u64,
}

async fn catalog(store: &Store) -> Result<Catalog<CatalogStore>, BackupError> {
    let has_log = !objects::list_all(store, "_catalog/log/").await?.is_empty()
        || !objects::list_all(store, "_catalog/checkpoints/")
            .await?
            .is_empty();
    if !has_log
        && !objects::list_all(store, "_catalog/manifests/")
            .await?
            .is_empty()
    {
        return Err(BackupError::Refused(
            "the catalog is in the layout before versions; start catalogd once to upgrade it"
                .into(),
        ));
    }
    let c = Catalog::new(CatalogStore(store.clone()), Settings::default());
    c.try_load().await?;
    Ok(c)
}

/// The dataset objects the catalog versions `chosen` need (all retained versions when empty),
/// and the versions covered.
async fn dataset_objects(
    c: &Catalog<CatalogStore>,
    chosen: &[u64],
) -> Result<(BTreeSet<String>, Vec<u64>), BackupError> {
    let mut versions: BTreeSet<u64> = chosen.iter().copied().collect();
    if versions.is_empty() {
        for name in c.names()? {
            for s in c.history(&name)?.snapshots {
                versions.insert(s.version);
            }
        }
    }
    let mut keys = BTreeSet::new();
    for v in &versions {
        let (manifests, _, expired) = c.list_at(&AsOf::Version(*v))?;
        if !chosen.is_empty() && !expired.is_empty() {
            return Err(BackupError::Refused(format!(
                "at catalog version {v} retention has dropped {}: it cannot be backed up",
                expired.join(", ")
            )));
        }
        for m in manifests {
            keys.extend(m.objects.into_iter().map(|o| o.key));
        }
    }
    Ok((keys, versions.into_iter().collect()))
}

/// The manifest of a backup, checked against its checksum; `None` when there is none.
pub async fn read_manifest(backup: &Store) -> Result<Option<Manifest>, BackupError> {
    let (bytes, sha) = match objects::read(backup, MANIFEST).await {
        Ok(b) => b,
        Err(StorageError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (want, _) = objects::read(backup, MANIFEST_SHA)
        .await
        .map_err(|e| BackupError::Damaged(format!("{MANIFEST_SHA}: {e}")))?;
    if String::from_utf8_lossy(&want).trim() != sha {
        return Err(BackupError::Damaged(format!(
            "{MANIFEST} does not match {MANIFEST_SHA}"
        )));
    }
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::Damaged(format!("{MANIFEST}: {e}")))?;
    if m.format == 0 || m.format > FORMAT {
        return Err(BackupError::Refused(format!(
            "{MANIFEST} has format {}; this build reads 1 to {FORMAT}",
            m.format
        )));
    }
    Ok(Some(m))
}

/// Copies what `versions` (all retained ones when empty) need from `source` into `backup`,
/// skipping objects an earlier backup there already holds unchanged.
pub async fn backup(
    source: &Store,
    backup: &Store,
    versions: &[u64],
) -> Result<Summary, BackupError> {
    let started = Instant::now();
    let c = catalog(source).await?;
    let (data, covered) = dataset_objects(&c, versions).await?;
    let earlier: BTreeMap<String, Entry> = read_manifest(backup)
        .await?
        .map(|m| m.objects.into_iter().map(|e| (e.key.clone(), e)).collect())
        .unwrap_or_default();
    // Listed before reading, so the catalog copied is at least as new as what was chosen.
    let mut wanted: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for prefix in STATE_PREFIXES {
        for (k, size, etag) in objects::list_all(source, prefix).await? {
            // Who leads the source fleet says nothing of the fleet restored from the copy.
            if k != lakehouse_catalog::lease::LEASE_KEY {
                wanted.insert(k, (size, etag));
            }
        }
    }
    for k in &data {
        let meta = source.head(&objects::key(k)?).await.map_err(|e| match e {
            StorageError::NotFound(_) => BackupError::Refused(format!(
                "{k} is named by a snapshot but missing from the source storage"
            )),
            e => e.into(),
        })?;
        wanted.insert(k.clone(), (meta.size, meta.etag));
    }
    let mut summary = Summary {
        versions: covered.clone(),
        ..Summary::default()
    };
    let mut entries = Vec::with_capacity(wanted.len());
    for (k, (size, etag)) in wanted {
        let unchanged = earlier
            .get(&k)
            .filter(|e| e.size == size && e.etag == etag)
            .cloned();
        let present = match &unchanged {
            Some(_) => backup
                .head(&objects::key(&k)?)
                .await
                .is_ok_and(|m| m.size == size),
            None => false,
        };
        let entry = match (unchanged, present) {
            (Some(e), true) => {
                summary.skipped += 1;
                e
            }
            _ => {
                let (copied, sha256) = objects::copy(source, backup, &k).await?;
                summary.copied += 1;
                summary.bytes += copied;
                Entry {
                    key: k,
                    size: copied,
                    etag,
                    sha256,
                }
            }
        };
        entries.push(entry);
    }
    summary.objects = entries.len() as u64;
    let manifest = Manifest {
        format: FORMAT,
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        catalog_version: c.version(),
        versions: covered,
        objects: entries,
    };
    let bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Refused(e.to_string()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    objects::write(backup, MANIFEST, bytes).await?;
    objects::write(backup, MANIFEST_SHA, format!("{sha}\n").into_bytes()).await?;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// Checks every object of the backup against its manifest; names the first that is wrong.
pub async fn verify(backup: &Store) -> Result<Manifest, BackupError> {
    let m = read_manifest(backup)
        .await?
        .ok_or_else(|| BackupError::Damaged(format!("{MANIFEST} is missing")))?;
    for e in &m.objects {
        let (size, sha) = objects::hash(backup, &e.key)
            .await
            .map_err(|err| match err {
                StorageError::NotFound(_) => BackupError::Damaged(format!("{} is missing", e.key)),
                err => err.into(),
            })?;
        if size != e.size || sha != e.sha256 {
            return Err(BackupError::Damaged(format!(
                "{} is {size} bytes with sha256 {sha}; the manifest says {} bytes, {}",
                e.key, e.size, e.sha256
            )));
        }
    }
    Ok(m)
}

/// Verifies the backup whole, then copies it into `target`, which must be empty.
pub async fn restore(backup: &Store, target: &Store) -> Result<Summary, BackupError> {
    let started = Instant::now();
    let page = target.list("", None, 1).await?;
    if let Some(o) = page.objects.first() {
        return Err(BackupError::Refused(format!(
            "the target storage is not empty (it holds {}); restore fills an empty store",
            o.key
        )));
    }
    let m = verify(backup).await?;
    let mut summary = Summary {
        objects: m.objects.len() as u64,
        versions: m.versions.clone(),
        ..Summary::default()
    };
    for e in &m.objects {
        let (size, sha) = objects::copy(backup, target, &e.key).await?;
        if sha != e.sha256 {
            return Err(BackupError::Damaged(format!(
                "{} changed while it was restored",
                e.key
            )));
        }
        summary.copied += 1;
        summary.bytes += size;
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}
