//! Write-log records: one object per group of acknowledged writes, stored before they are
//! applied and replayed at start past the snapshot's position. Writes that arrive while a
//! record is being stored wait and go together into the next one (group commit), so a busy
//! index pays one PUT for many writes.
//!
//! ```text
//! "LHW1" · u32 format version · u64 envelope length · envelope (JSON: seq of the first write,
//! writes [{op, ids, metadata, dimension}]) · vectors (f32, dimension per id, the upserts' in
//! order) · u64 checksum
//! ```
//! Little-endian; the checksum is the `.lhv1` one, over everything before it. Write `i` has
//! sequence number `seq + i`. Upserts keep the items exactly as received (ids named twice
//! included), so a replay does what the original write did. Version 1 records (one write,
//! its fields at the envelope's top level) are still read.

use lakehouse_vector::codec::checksum;
use lakehouse_vector::{Item, Metadata};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"LHW1";
const VERSION: u32 = 2;

/// One logged write.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Items added or replaced.
    Upsert(Vec<Item>),
    /// Ids deleted.
    Delete(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct Part {
    op: Op,
    ids: Vec<String>,
    #[serde(default)]
    metadata: Vec<Option<Metadata>>,
    #[serde(default)]
    dimension: usize,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    seq: u64,
    writes: Vec<Part>,
}

#[derive(Deserialize)]
struct EnvelopeV1 {
    seq: u64,
    #[serde(flatten)]
    write: Part,
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

impl Write<'_> {
    /// Bytes this write adds to a record, about.
    pub fn size(&self, dimension: usize) -> usize {
        match self {
            Self::Upsert(items) => items.iter().map(|i| 32 + i.id.len() + 4 * dimension).sum(),
            Self::Delete(ids) => ids.iter().map(|id| 8 + id.len()).sum(),
        }
    }
}

/// The bytes of the record holding `writes`, numbered from `seq`. Every upsert item must have
/// `dimension` values (the index checked each batch before it is logged).
pub fn encode(seq: u64, writes: &[Write<'_>], dimension: usize) -> Vec<u8> {
    let parts = writes
        .iter()
        .map(|w| match w {
            Write::Upsert(items) => Part {
                op: Op::Upsert,
                ids: items.iter().map(|i| i.id.clone()).collect(),
                metadata: items.iter().map(|i| i.metadata.clone()).collect(),
                dimension,
            },
            Write::Delete(ids) => Part {
                op: Op::Delete,
                ids: ids.to_vec(),
                metadata: Vec::new(),
                dimension: 0,
            },
        })
        .collect();
    let json = serde_json::to_vec(&Envelope { seq, writes: parts }).unwrap_or_default();
    let size: usize = writes.iter().map(|w| w.size(dimension)).sum();
    let mut out = Vec::with_capacity(24 + json.len() + size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for w in writes {
        if let Write::Upsert(items) = w {
            for x in items.iter().flat_map(|i| &i.vector) {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The first sequence number and the writes in `bytes`, or why they are not a record.
pub fn decode(bytes: &[u8]) -> Result<(u64, Vec<Record>), String> {
    if bytes.len() < 24 || &bytes[..4] != MAGIC {
        return Err("no LHW1 header".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| "no checksum")?);
    if checksum(body) != sum {
        return Err("checksum mismatch (damaged or truncated)".into());
    }
    let version = u32::from_le_bytes(body[4..8].try_into().map_err(|_| "header")?);
    let len = u64::from_le_bytes(body[8..16].try_into().map_err(|_| "header")?);
    let len = usize::try_from(len).map_err(|_| "envelope too large")?;
    let rest = &body[16..];
    if rest.len() < len {
        return Err("truncated envelope".into());
    }
    let (json, mut vectors) = rest.split_at(len);
    let env = match version {
        1 => {
            let v1: EnvelopeV1 =
                serde_json::from_slice(json).map_err(|e| format!("envelope: {e}"))?;
            Envelope {
                seq: v1.seq,
                writes: vec![v1.write],
            }
        }
        2 => serde_json::from_slice(json).map_err(|e| format!("envelope: {e}"))?,
        v => return Err(format!("log format version {v}, this build reads 1 and 2")),
    };
    if env.writes.is_empty() {
        return Err("a record without writes".into());
    }
    let mut records = Vec::with_capacity(env.writes.len());
    for part in env.writes {
        records.push(match part.op {
            Op::Delete => Record::Delete(part.ids),
            Op::Upsert => {
                let n = part.ids.len();
                let want = n
                    .checked_mul(part.dimension)
                    .and_then(|w| w.checked_mul(4))
                    .ok_or("vectors too large")?;
                if part.metadata.len() != n
                    || vectors.len() < want
                    || (n > 0 && part.dimension == 0)
                {
                    return Err("envelope and vector bytes disagree".into());
                }
                let (mine, later) = vectors.split_at(want);
                vectors = later;
                let values: Vec<f32> = mine
                    .chunks_exact(4)
                    .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                    .collect();
                Record::Upsert(
                    part.ids
                        .into_iter()
                        .zip(part.metadata)
                        .zip(values.chunks(part.dimension.max(1)))
                        .map(|((id, metadata), v)| Item {
                            id,
                            vector: v.to_vec(),
                            metadata,
                        })
                        .collect(),
                )
            }
        });
    }
    if !vectors.is_empty() {
        return Err("bytes after the last write's vectors".into());
    }
    Ok((env.seq, records))
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
        let one = |r: Record| vec![r];
        for (seq, rs) in [
            (1, one(Record::Upsert(items()))),
            (u64::MAX - 5, one(Record::Upsert(Vec::new()))),
            (
                7,
                one(Record::Delete(vec![
                    "a".into(),
                    String::new(),
                    "z z".into(),
                ])),
            ),
            (8, one(Record::Delete(Vec::new()))),
            (
                9,
                vec![
                    Record::Upsert(items()),
                    Record::Delete(vec!["a".into()]),
                    Record::Upsert(items()[1..].to_vec()),
                    Record::Delete(Vec::new()),
                ],
            ),
        ] {
            let writes: Vec<Write<'_>> = rs.iter().map(Record::as_write).collect();
            let bytes = encode(seq, &writes, 3);
            assert_eq!(decode(&bytes).unwrap(), (seq, rs));
        }
    }

    /// Metadata `depth` levels deep: `{"a": {"a": … {"a": 1}}}` with arrays every other level.
    pub(crate) fn nested(depth: usize) -> Metadata {
        let mut v = json!(1);
        for level in (2..=depth).rev() {
            v = if level % 2 == 0 {
                json!([v])
            } else {
                json!({"a": v})
            };
        }
        json!({ "a": v }).as_object().cloned().unwrap()
    }

    #[test]
    fn the_deepest_metadata_an_add_accepts_is_read_back() {
        use lakehouse_vector::{MAX_METADATA_DEPTH, metadata_depth};
        let meta = nested(MAX_METADATA_DEPTH);
        assert_eq!(metadata_depth(&meta), MAX_METADATA_DEPTH);
        let its = vec![Item {
            id: "deep".into(),
            vector: vec![1.0, 0.0, 0.0],
            metadata: Some(meta),
        }];
        let bytes = encode(1, &[Write::Upsert(&its)], 3);
        assert_eq!(decode(&bytes).unwrap(), (1, vec![Record::Upsert(its)]));
    }

    #[test]
    fn version_1_records_are_read() {
        // One write, its fields at the top level of the envelope.
        let json = br#"{"seq":4,"op":"upsert","ids":["a"],"metadata":[{"k":1}],"dimension":2}"#;
        let mut b = b"LHW1".to_vec();
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(json.len() as u64).to_le_bytes());
        b.extend_from_slice(json);
        for x in [0.5f32, -1.0] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        let sum = checksum(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        let (seq, rs) = decode(&b).unwrap();
        assert_eq!(seq, 4);
        assert_eq!(
            rs,
            vec![Record::Upsert(vec![Item {
                id: "a".into(),
                vector: vec![0.5, -1.0],
                metadata: json!({"k": 1}).as_object().cloned(),
            }])]
        );
    }

    #[test]
    fn damaged_records_are_refused() {
        let its = items();
        let bytes = encode(3, &[Write::Upsert(&its), Write::Delete(&[])], 3);
        for cut in [0, 5, 23, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "flip at {i}");
        }
        assert!(decode(&encode(3, &[], 3)).is_err());
    }
}
