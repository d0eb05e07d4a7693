//! The `.lhv1` format: one self-checking byte string per index, decoded without rebuilding.
//!
//! ```text
//! "LHV1" · u32 format version · u64 envelope length · envelope (JSON: params, slots, ids,
//! metadata, entry, rng, sequence) · levels (u8 per slot) · vectors (f32 per value) · level-0 lists
//! (u32, 1 + 2M per slot) · upper lists (u32, (1 + M) × level per slot, in slot order)
//! · u64 checksum of everything before it
//! ```
//! Integers and floats are little-endian. Free slots have a `null` id. A decoded index
//! answers exactly as the encoded one did.

use serde::{Deserialize, Serialize};

use crate::core::{Core, Metadata};
use crate::graph::Graph;
use crate::params::Params;

const MAGIC: &[u8; 4] = b"LHV1";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope {
    params: Params,
    slots: usize,
    ids: Vec<Option<String>>,
    metadata: Vec<Option<Metadata>>,
    entry: Option<u32>,
    rng: u64,
    /// The owner's log position of the last write applied (0 when it keeps none).
    #[serde(default)]
    sequence: u64,
    /// The keyword-searchable metadata field; its index is rebuilt from the metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text_field: Option<String>,
}

/// Why bytes are not an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a valid .lhv1 index: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A 64-bit checksum over 8-byte words (multiply-rotate mixing): detects truncation and
/// flipped bits at memory speed. Not a defence against a forger.
pub fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ bytes.len() as u64;
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for w in words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h ^ x).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 32)
}

pub(crate) fn encode(c: &Core) -> Vec<u8> {
    let g = &c.graph;
    let env = Envelope {
        params: c.params,
        slots: g.slots(),
        ids: c.ids.clone(),
        metadata: c.meta.clone(),
        entry: g.entry(),
        rng: g.rng_state(),
        sequence: c.sequence,
        text_field: c.text.as_ref().map(|t| t.field().to_owned()),
    };
    let json = serde_json::to_vec(&env).unwrap_or_default();
    let links0 = g.links0_words();
    let upper: Vec<Vec<u32>> = g.upper_words().collect();
    let upper_words: usize = upper.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(
        16 + json.len() + g.levels.len() + 4 * (g.vectors.len() + links0.len() + upper_words) + 8,
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&g.levels);
    for x in &g.vectors {
        out.extend_from_slice(&x.to_le_bytes());
    }
    for x in &links0 {
        out.extend_from_slice(&x.to_le_bytes());
    }
    for u in &upper {
        for x in u {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError(format!("truncated in {what}")));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn words(&mut self, n: usize, what: &str) -> Result<Vec<u32>, DecodeError> {
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| DecodeError(format!("{what} too large")))?,
            what,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect())
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Core, DecodeError> {
    let err = |s: &str| DecodeError(s.to_owned());
    if bytes.len() < 24 || &bytes[..4] != MAGIC {
        return Err(err("no LHV1 header"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| err("no checksum"))?);
    if checksum(body) != sum {
        return Err(err("checksum mismatch (damaged or truncated)"));
    }
    let mut r = Reader { rest: &body[4..] };
    let version = u32::from_le_bytes(r.take(4, "header")?.try_into().map_err(|_| err("header"))?);
    if version != VERSION {
        return Err(DecodeError(format!(
            "format version {version}, this build reads {VERSION}"
        )));
    }
    let len = u64::from_le_bytes(r.take(8, "header")?.try_into().map_err(|_| err("header"))?);
    let len = usize::try_from(len).map_err(|_| err("envelope too large"))?;
    let env: Envelope = serde_json::from_slice(r.take(len, "envelope")?)
        .map_err(|e| DecodeError(format!("envelope: {e}")))?;
    env.params.check().map_err(DecodeError)?;
    let n = env.slots;
    if env.ids.len() != n || env.metadata.len() != n {
        return Err(err("envelope lists disagree with the slot count"));
    }
    let shape = Core::shape(&env.params);
    let probe = Graph::new(shape);
    let levels = r.take(n, "levels")?.to_vec();
    let dim_words = n
        .checked_mul(env.params.dimension)
        .ok_or_else(|| err("vectors too large"))?;
    let vectors: Vec<f32> = r
        .words(dim_words, "vectors")?
        .into_iter()
        .map(f32::from_bits)
        .collect();
    let links0 = r.words(
        n.checked_mul(probe.stride0())
            .ok_or_else(|| err("lists too large"))?,
        "level-0 lists",
    )?;
    let mut upper = Vec::with_capacity(n);
    for &l in &levels {
        upper.push(r.words(l as usize * probe.stride_upper(), "upper lists")?);
    }
    if !r.rest.is_empty() {
        return Err(err("bytes after the last section"));
    }
    let graph = Graph::from_parts(shape, vectors, links0, upper, levels, env.entry, env.rng)
        .map_err(DecodeError)?;
    let mut by_id = std::collections::HashMap::with_capacity(n);
    let mut free = Vec::new();
    for (s, id) in env.ids.iter().enumerate() {
        match id {
            Some(id) => {
                if id.is_empty() || by_id.insert(id.clone(), s as u32).is_some() {
                    return Err(DecodeError(format!("slot {s}: empty or repeated id")));
                }
            }
            None => free.push(s as u32),
        }
    }
    if graph.entry().is_none() && !by_id.is_empty() {
        return Err(err("entry point and items disagree"));
    }
    let mut text = env.text_field.as_deref().map(crate::text::TextIndex::new);
    if let Some(t) = &mut text {
        for (s, m) in env.metadata.iter().enumerate() {
            if env.ids[s].is_some() {
                t.set(s as u32, m.as_ref());
            }
        }
    }
    Ok(Core {
        text,
        params: env.params,
        graph,
        live: env.ids.iter().map(Option::is_some).collect(),
        ids: env.ids,
        meta: env.metadata,
        by_id,
        free,
        exact_below: crate::core::EXACT_BELOW,
        sequence: env.sequence,
        threads: crate::core::default_threads(),
    })
}
