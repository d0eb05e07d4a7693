//! Write-log records: one object per acknowledged write, stored before the write is applied
//! and replayed at start past the snapshot's position.
//!
//! ```text
//! "LHW1" · u32 format version · u64 envelope length · envelope (JSON: seq, op, ids,
//! metadata, dimension) · vectors (f32, dimension per id; upserts only) · u64 checksum
//! ```
//! Little-endian; the checksum is the `.lhv1` one, over everything before it. Upserts keep the
//! items exactly as received (ids named twice included), so a replay does what the original
//! write did.

use lakehouse_vector::codec::checksum;
use lakehouse_vector::{Item, Metadata};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"LHW1";
const VERSION: u32 = 1;

/// One logged write.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Items added or replaced.
    Upsert(Vec<Item>),
    /// Ids deleted.
    Delete(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    seq: u64,
    op: Op,
    ids: Vec<String>,
    #[serde(default)]
    metadata: Vec<Option<Metadata>>,
    #[serde(default)]
    dimension: usize,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Op {
    Upsert,
    Delete,
}

/// A write to log, borrowed from the request that makes it.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// Items added or replaced.
    Upsert(&'a [Item]),
    /// Ids deleted.
    Delete(&'a [String]),
}

impl Record {
    /// The record as a [`Write`].
    pub fn as_write(&self) -> Write<'_> {
        match self {
            Self::Upsert(items) => Write::Upsert(items),
            Self::Delete(ids) => Write::Delete(ids),
        }
    }
}

/// The bytes of record `seq`. Every upsert item must have `dimension` values (the index
/// checked the batch before it is logged).
pub fn encode(seq: u64, write: Write<'_>, dimension: usize) -> Vec<u8> {
    let (env, vectors): (Envelope, Vec<&[f32]>) = match write {
        Write::Upsert(items) => (
            Envelope {
                seq,
                op: Op::Upsert,
                ids: items.iter().map(|i| i.id.clone()).collect(),
                metadata: items.iter().map(|i| i.metadata.clone()).collect(),
                dimension,
            },
            items.iter().map(|i| i.vector.as_slice()).collect(),
        ),
        Write::Delete(ids) => (
            Envelope {
                seq,
                op: Op::Delete,
                ids: ids.to_vec(),
                metadata: Vec::new(),
                dimension: 0,
            },
            Vec::new(),
        ),
    };
    let json = serde_json::to_vec(&env).unwrap_or_default();
    let mut out = Vec::with_capacity(24 + json.len() + 4 * dimension * vectors.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for v in vectors {
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The sequence number and record in `bytes`, or why they are not a record.
pub fn decode(bytes: &[u8]) -> Result<(u64, Record), String> {
    if bytes.len() < 24 || &bytes[..4] != MAGIC {
        return Err("no LHW1 header".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| "no checksum")?);
    if checksum(body) != sum {
        return Err("checksum mismatch (damaged or truncated)".into());
    }
    let version = u32::from_le_bytes(body[4..8].try_into().map_err(|_| "header")?);
    if version != VERSION {
        return Err(format!(
            "log format version {version}, this build reads {VERSION}"
        ));
    }
    let len = u64::from_le_bytes(body[8..16].try_into().map_err(|_| "header")?);
    let len = usize::try_from(len).map_err(|_| "envelope too large")?;
    let rest = &body[16..];
    if rest.len() < len {
        return Err("truncated envelope".into());
    }
    let (json, vectors) = rest.split_at(len);
    let env: Envelope = serde_json::from_slice(json).map_err(|e| format!("envelope: {e}"))?;
    match env.op {
        Op::Delete => {
            if !vectors.is_empty() {
                return Err("bytes after a delete record".into());
            }
            Ok((env.seq, Record::Delete(env.ids)))
        }
        Op::Upsert => {
            let n = env.ids.len();
            let want = n
                .checked_mul(env.dimension)
                .and_then(|w| w.checked_mul(4))
                .ok_or("vectors too large")?;
            if env.metadata.len() != n || vectors.len() != want || (n > 0 && env.dimension == 0) {
                return Err("envelope and vector bytes disagree".into());
            }
            let values: Vec<f32> = vectors
                .chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect();
            let items = env
                .ids
                .into_iter()
                .zip(env.metadata)
                .zip(values.chunks(env.dimension.max(1)))
                .map(|((id, metadata), v)| Item {
                    id,
                    vector: v.to_vec(),
                    metadata,
                })
                .collect();
            Ok((env.seq, Record::Upsert(items)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Vec<Item> {
        vec![
            Item {
                id: "a".into(),
                vector: vec![1.0, -2.5, 3.25],
                metadata: None,
            },
            Item {
                id: "b/é".into(),
                vector: vec![0.0, f32::MIN_POSITIVE, 7.0],
                metadata: Some(serde_json::Map::new()),
            },
            Item {
                id: "a".into(),
                vector: vec![4.0, 5.0, 6.0],
                metadata: json!({"k": [1, "x"]}).as_object().cloned(),
            },
        ]
    }

    #[test]
    fn records_round_trip_exactly() {
        for (seq, r) in [
            (1, Record::Upsert(items())),
            (u64::MAX, Record::Upsert(Vec::new())),
            (
                7,
                Record::Delete(vec!["a".into(), String::new(), "z z".into()]),
            ),
            (8, Record::Delete(Vec::new())),
        ] {
            let bytes = encode(seq, r.as_write(), 3);
            assert_eq!(decode(&bytes).unwrap(), (seq, r));
        }
    }

    #[test]
    fn damaged_records_are_refused() {
        let bytes = encode(3, Write::Upsert(&items()), 3);
        for cut in [0, 5, 23, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "flip at {i}");
        }
    }
}
