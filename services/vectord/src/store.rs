//! Index objects in storage: `_vectors/<name>.lhv1` (the snapshot), `_vectors/<name>.wal/<seq>`
//! (write-log records past it) and, for snapshots larger than one part, `_vectors/<name>.parts/`.
//!
//! storaged caps one object at 256 MiB and an index of 100,000 × 768 floats is larger, so a
//! snapshot over the part size (`[vectord] snapshot_part_mb`) is stored as parts under a fresh id, and only then does the
//! `.lhv1` key get a small pointer to them (magic `LHVP`). The switch is one PUT: a crash
//! mid-save leaves the previous snapshot whole.

use bytes::Bytes;
use lakehouse_client::{ClientError, StorageClient};
use lakehouse_types::{ObjectKey, name_error};
use serde::{Deserialize, Serialize};

/// Where index objects live.
pub const PREFIX: &str = "_vectors/";
const POINTER_MAGIC: &[u8; 4] = b"LHVP";

/// Why `name` cannot name an index.
pub fn index_name_error(name: &str) -> Option<String> {
    name_error("index", name)
}

fn key(s: String) -> Result<ObjectKey, ClientError> {
    ObjectKey::parse(s).map_err(|e| ClientError::Decode {
        url: String::new(),
        message: e.to_string(),
    })
}

fn snapshot_key(name: &str) -> String {
    format!("{PREFIX}{name}.lhv1")
}

fn log_prefix(name: &str) -> String {
    format!("{PREFIX}{name}.wal/")
}

fn log_key(name: &str, seq: u64) -> String {
    format!("{}{seq:020}", log_prefix(name))
}

fn parts_prefix(name: &str) -> String {
    format!("{PREFIX}{name}.parts/")
}

/// The key of index `name`'s state committed at write sequence `seq`.
pub fn commit_key(name: &str, seq: u64) -> String {
    format!("{PREFIX}{name}.commits/{seq:020}.lhv1")
}

/// Where the parts of a committed state stored in parts live.
fn commit_parts_prefix(head: &str) -> String {
    format!("{}.parts/", head.strip_suffix(".lhv1").unwrap_or(head))
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    id: String,
    parts: Vec<u64>,
}

/// Objects found under [`PREFIX`], by index.
#[derive(Debug, Default)]
pub struct Listing {
    /// Index names with a snapshot.
    pub snapshots: Vec<String>,
    /// Log records by index name, sequence ascending.
    pub logs: std::collections::BTreeMap<String, Vec<u64>>,
    /// Objects that belong to no index.
    pub strays: Vec<String>,
}

/// Reads and writes index objects through storaged.
#[derive(Debug, Clone)]
pub struct Store {
    storage: StorageClient,
    part_bytes: usize,
}

fn missing(e: &ClientError) -> bool {
    e.status() == Some(reqwest::StatusCode::NOT_FOUND)
}

impl Store {
    /// Wraps a storaged client; snapshots over `part_bytes` go in parts.
    pub fn new(storage: StorageClient, part_bytes: usize) -> Self {
        Self {
            storage,
            part_bytes: part_bytes.max(1),
        }
    }

    /// Every index object, classified.
    pub async fn list(&self, rid: &str) -> Result<Listing, ClientError> {
        let mut out = Listing::default();
        for k in self.storage.list_all(PREFIX, rid).await? {
            let rest = &k[PREFIX.len()..];
            match rest.split_once('/') {
                None => match rest.strip_suffix(".lhv1") {
                    Some(n) if index_name_error(n).is_none() => out.snapshots.push(n.to_owned()),
                    _ => out.strays.push(k),
                },
                Some((head, tail)) => {
                    if let Some(n) = head.strip_suffix(".wal") {
                        match tail.parse::<u64>() {
                            Ok(seq) if index_name_error(n).is_none() => {
                                out.logs.entry(n.to_owned()).or_default().push(seq);
                            }
                            _ => out.strays.push(k),
                        }
                    } else if head.strip_suffix(".parts").is_none()
                        && head.strip_suffix(".commits").is_none()
                    {
                        // Committed states belong to the catalog, which collects them.
                        out.strays.push(k);
                    }
                }
            }
        }
        for seqs in out.logs.values_mut() {
            seqs.sort_unstable();
        }
        Ok(out)
    }

    /// Stores a snapshot, in parts when large; the previous one stays whole until the last PUT.
    pub async fn put_snapshot(
        &self,
        name: &str,
        bytes: Vec<u8>,
        rid: &str,
    ) -> Result<(), ClientError> {
        let head = key(snapshot_key(name))?;
        if bytes.len() <= self.part_bytes {
            self.storage.put(&head, bytes, rid).await?;
            return self.delete_parts(name, None, rid).await;
        }
        let id = format!(
            "{:016x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        );
        let bytes = Bytes::from(bytes);
        let mut parts = Vec::new();
        for (i, start) in (0..bytes.len()).step_by(self.part_bytes).enumerate() {
            let part = bytes.slice(start..bytes.len().min(start + self.part_bytes));
            parts.push(part.len() as u64);
            let k = key(format!("{}{id}/{i:05}", parts_prefix(name)))?;
            self.storage.put(&k, part, rid).await?;
        }
        let mut pointer = POINTER_MAGIC.to_vec();
        pointer.extend(
            serde_json::to_vec(&Pointer {
                id: id.clone(),
                parts,
            })
            .unwrap_or_default(),
        );
        self.storage.put(&head, pointer, rid).await?;
        self.delete_parts(name, Some(&id), rid).await
    }

    /// A snapshot's bytes (parts joined), `None` when there is none.
    pub async fn get_snapshot(
        &self,
        name: &str,
        rid: &str,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_blob(&snapshot_key(name), &parts_prefix(name), rid)
            .await
    }

    /// Stores index `name`'s state at sequence `seq` for a commit, in parts when large;
    /// returns its key. Never overwritten: a commit's state is immutable.
    pub async fn put_commit(
        &self,
        name: &str,
        seq: u64,
        bytes: Vec<u8>,
        rid: &str,
    ) -> Result<String, ClientError> {
        let head = commit_key(name, seq);
        if bytes.len() <= self.part_bytes {
            self.storage.put(&key(head.clone())?, bytes, rid).await?;
            return Ok(head);
        }
        let prefix = commit_parts_prefix(&head);
        let bytes = Bytes::from(bytes);
        let mut parts = Vec::new();
        for (i, start) in (0..bytes.len()).step_by(self.part_bytes).enumerate() {
            let part = bytes.slice(start..bytes.len().min(start + self.part_bytes));
            parts.push(part.len() as u64);
            self.storage
                .put(&key(format!("{prefix}c/{i:05}"))?, part, rid)
                .await?;
        }
        let mut pointer = POINTER_MAGIC.to_vec();
        pointer.extend(
            serde_json::to_vec(&Pointer {
                id: "c".into(),
                parts,
            })
            .unwrap_or_default(),
        );
        self.storage.put(&key(head.clone())?, pointer, rid).await?;
        Ok(head)
    }

    /// A committed state's bytes, `None` when it is gone.
    pub async fn get_commit(&self, head: &str, rid: &str) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_blob(head, &commit_parts_prefix(head), rid).await
    }

    /// An object that may be a pointer to parts under `parts_prefix`, joined.
    async fn get_blob(
        &self,
        head_key: &str,
        parts_prefix: &str,
        rid: &str,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let head = match self.storage.get(&key(head_key.to_owned())?, rid).await {
            Ok(b) => b,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !head.starts_with(POINTER_MAGIC) {
            return Ok(Some(head.to_vec()));
        }
        let bad = |message: String| ClientError::Decode {
            url: head_key.to_owned(),
            message,
        };
        let p: Pointer = serde_json::from_slice(&head[4..])
            .map_err(|e| bad(format!("snapshot pointer: {e}")))?;
        let total: u64 = p.parts.iter().sum();
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for (i, size) in p.parts.iter().enumerate() {
            let k = key(format!("{parts_prefix}{}/{i:05}", p.id))?;
            let part = match self.storage.get(&k, rid).await {
                Ok(b) => b,
                Err(e) if missing(&e) => return Err(bad(format!("snapshot part {i} is missing"))),
                Err(e) => return Err(e),
            };
            if part.len() as u64 != *size {
                return Err(bad(format!(
                    "snapshot part {i} has {} bytes, expected {size}",
                    part.len()
                )));
            }
            out.extend_from_slice(&part);
        }
        Ok(Some(out))
    }

    /// Stores log record `seq`.
    pub async fn put_log(
        &self,
        name: &str,
        seq: u64,
        bytes: Vec<u8>,
        rid: &str,
    ) -> Result<(), ClientError> {
        self.storage
            .put(&key(log_key(name, seq))?, bytes, rid)
            .await?;
        Ok(())
    }

    /// Log record `seq`.
    pub async fn get_log(&self, name: &str, seq: u64, rid: &str) -> Result<Bytes, ClientError> {
        self.storage.get(&key(log_key(name, seq))?, rid).await
    }

    /// Removes log record `seq`; a missing one is not an error.
    pub async fn delete_log(&self, name: &str, seq: u64, rid: &str) -> Result<(), ClientError> {
        self.delete_quiet(&log_key(name, seq), rid).await
    }

    async fn delete_quiet(&self, k: &str, rid: &str) -> Result<(), ClientError> {
        match self.storage.delete(&key(k.to_owned())?, rid).await {
            Err(e) if !missing(&e) => Err(e),
            _ => Ok(()),
        }
    }

    async fn delete_under(
        &self,
        prefix: &str,
        keep: Option<&str>,
        rid: &str,
    ) -> Result<(), ClientError> {
        for k in self.storage.list_all(prefix, rid).await? {
            if keep.is_some_and(|p| k.starts_with(p)) {
                continue;
            }
            self.delete_quiet(&k, rid).await?;
        }
        Ok(())
    }

    async fn delete_parts(
        &self,
        name: &str,
        keep_id: Option<&str>,
        rid: &str,
    ) -> Result<(), ClientError> {
        let prefix = parts_prefix(name);
        let keep = keep_id.map(|id| format!("{prefix}{id}/"));
        self.delete_under(&prefix, keep.as_deref(), rid).await
    }

    /// Removes every object of index `name`: log records first, so an interrupted delete
    /// never leaves records that a later index of the same name would replay.
    pub async fn delete_index(&self, name: &str, rid: &str) -> Result<(), ClientError> {
        self.delete_under(&log_prefix(name), None, rid).await?;
        self.delete_quiet(&snapshot_key(name), rid).await?;
        self.delete_parts(name, None, rid).await
    }
}
