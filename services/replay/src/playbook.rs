//! Playbook memory: a task whose answer passed every validator is recorded into a vector index
//! (the task's query vector; its text, answer, evidence and versions as metadata), and a later
//! task with `--use-playbook` gets the closest past successes as worked examples in its bundle.
//!
//! An entry's id is a hash of the task text and the answer, so recording the same success
//! twice keeps one entry.

use lakehouse_client::Gateway;
use lakehouse_client::vectors::VectorItem;
use lakehouse_jobs::retry::{Backoff, retry};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::bundle::Evidence;

/// The metadata field of a playbook index that is keyword-searchable: the task text.
pub const TEXT_FIELD: &str = "task";

/// How a run uses the playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The playbook's vector index.
    pub index: String,
    /// Offer past successes to each task as worked examples.
    pub use_examples: bool,
    /// Examples offered per task, at most.
    pub k: usize,
    /// Only past tasks at least this similar (cosine similarity, 1 − distance).
    pub min_similarity: f32,
}

/// Creates the index if needed: cosine, `dimension`, the task text keyword-searchable.
pub async fn prepare(
    gw: &Gateway,
    p: &Playbook,
    dimension: usize,
    rid: &str,
) -> Result<(), String> {
    let info = gw
        .vectors
        .ensure_with(&p.index, dimension, "cosine", Some(TEXT_FIELD), rid)
        .await
        .map_err(|e| format!("playbook index '{}': {e}", p.index))?;
    if info.params.dimension != dimension {
        return Err(format!(
            "playbook index '{}' holds {}-d vectors; the embedder makes {dimension}-d ones",
            p.index, info.params.dimension
        ));
    }
    Ok(())
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The closest past successes to `vector`, as worked examples for the bundle (ids
/// `<index>/<entry>`, so they are told apart from evidence in `bundled_ids`).
pub async fn examples(
    gw: &Gateway,
    p: &Playbook,
    vector: &[f32],
    rid: &str,
) -> Result<Vec<Evidence>, String> {
    if !p.use_examples || p.k == 0 || vector.is_empty() {
        return Ok(Vec::new());
    }
    let hits = gw
        .vectors
        .search(&p.index, vector, p.k, rid)
        .await
        .map_err(|e| format!("searching playbook '{}': {e}", p.index))?;
    Ok(hits
        .into_iter()
        .filter(|h| 1.0 - h.distance >= p.min_similarity)
        .map(|h| Evidence {
            id: format!("{}/{}", p.index, h.id),
            distance: h.distance,
            label: format!("passed {}", text(&h.metadata, "validators")),
            prompt: text(&h.metadata, TEXT_FIELD).to_owned(),
            response: text(&h.metadata, "answer").to_owned(),
            example: true,
        })
        .collect())
}

/// What a recorded success carries.
#[derive(Debug, Clone)]
pub struct Success<'a> {
    /// The task's id.
    pub task_id: &'a str,
    /// Its text.
    pub task: &'a str,
    /// The answer that passed.
    pub answer: &'a str,
    /// Evidence ids bundled with it.
    pub evidence_ids: &'a [String],
    /// The validators it passed.
    pub validators: Vec<&'static str>,
    /// The replay run.
    pub run_id: &'a str,
    /// Versions read: the catalog's and the evidence index's.
    pub catalog_version: Option<i64>,
    /// The evidence index's write version.
    pub index_version: Option<i64>,
    /// When, RFC 3339.
    pub ts: String,
}

/// The entry id of a success: the same task and answer, the same entry.
pub fn entry_id(task: &str, answer: &str) -> String {
    let mut h = Sha256::new();
    h.update(task.as_bytes());
    h.update([0]);
    h.update(answer.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Records a success under the task's query vector; its entry id.
pub async fn record(
    gw: &Gateway,
    p: &Playbook,
    vector: &[f32],
    s: &Success<'_>,
    rid: &str,
) -> Result<String, String> {
    let id = entry_id(s.task, s.answer);
    let metadata = json!({
        "task_id": s.task_id,
        TEXT_FIELD: s.task,
        "answer": s.answer,
        "evidence_ids": s.evidence_ids,
        "validators": s.validators.join(", "),
        "run_id": s.run_id,
        "catalog_version": s.catalog_version,
        "index_version": s.index_version,
        "ts": s.ts,
    });
    let item = VectorItem {
        id: id.clone(),
        vector: vector.to_vec(),
        metadata: metadata.as_object().cloned(),
    };
    retry(Backoff::new(4), || {
        gw.vectors.add(&p.index, std::slice::from_ref(&item), rid)
    })
    .await
    .result
    .map(|_| id)
    .map_err(|e| format!("recording into playbook '{}': {e}", p.index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_success_is_one_entry() {
        assert_eq!(entry_id("t", "a"), entry_id("t", "a"));
        assert_ne!(entry_id("t", "a"), entry_id("t", "b"));
        // The separator keeps "ab"+"c" and "a"+"bc" apart.
        assert_ne!(entry_id("ab", "c"), entry_id("a", "bc"));
        assert_eq!(entry_id("t", "a").len(), 32);
    }
}
