//! Retrieval: embed the task as a query, search the index, fetch the records' text from the
//! `evidence` dataset with one SQL query — both as of one catalog version when asked, so a
//! replay of an old task sees exactly what it saw then.

use std::collections::HashMap;
use std::time::Instant;

use lakehouse_client::Gateway;
use lakehouse_client::sql::literal;
use lakehouse_jobs::embed::{Embedder, Purpose};
use lakehouse_types::AsOf;
use serde_json::Value;

use crate::bundle::Evidence;

/// What retrieval found, with its timings.
#[derive(Debug, Clone, Default)]
pub struct Retrieved {
    /// Records, nearest first.
    pub evidence: Vec<Evidence>,
    /// Ids and distances the index returned (some may be gone from the dataset).
    pub hits: Vec<(String, f32)>,
    /// Milliseconds embedding the query.
    pub embed_ms: u64,
    /// Milliseconds searching.
    pub search_ms: u64,
    /// Milliseconds fetching text.
    pub fetch_ms: u64,
    /// The catalog version the evidence was read at.
    pub catalog_version: Option<u64>,
}

fn field(row: &serde_json::Map<String, Value>, k: &str) -> String {
    match row.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Top `k` evidence for `query` from `index`.
pub async fn retrieve(
    gw: &Gateway,
    embedder: &dyn Embedder,
    index: &str,
    query: &str,
    k: usize,
    as_of: Option<&AsOf>,
    rid: &str,
) -> Result<Retrieved, String> {
    let mut out = Retrieved::default();
    let t = Instant::now();
    let v = embedder
        .embed(&[query.to_owned()], Purpose::Query)
        .await
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("the embedder returned nothing")?;
    out.embed_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    let hits = gw
        .vectors
        .search_at(index, &v, k, as_of, rid)
        .await
        .map_err(|e| format!("searching index '{index}': {e}"))?;
    out.search_ms = t.elapsed().as_millis() as u64;
    out.hits = hits.iter().map(|h| (h.id.clone(), h.distance)).collect();
    if hits.is_empty() {
        return Ok(out);
    }
    let t = Instant::now();
    let ids = hits
        .iter()
        .map(|h| literal(&h.id))
        .collect::<Vec<_>>()
        .join(", ");
    // The hits' `day` metadata lets DuckDB skip every object of other days (one day per
    // object, so its row-group statistics rule it out) instead of scanning the whole set.
    let mut days: Vec<String> = hits
        .iter()
        .filter_map(|h| h.metadata.get("day").and_then(Value::as_str))
        .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .map(|d| format!("DATE {}", literal(d)))
        .collect();
    days.sort();
    days.dedup();
    let every_hit_has_a_day = hits.iter().all(|h| h.metadata.contains_key("day"));
    let day_filter = if every_hit_has_a_day && !days.is_empty() {
        format!(" AND day IN ({})", days.join(", "))
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT evidence_id, kind, CAST(day AS VARCHAR) AS day, model, task, prompt, response \
         FROM evidence WHERE evidence_id IN ({ids}){day_filter}"
    );
    let res = gw
        .sql
        .query_at(&sql, Some(k as u64 * 2), as_of, rid)
        .await
        .map_err(|e| format!("fetching evidence text: {e}"))?;
    out.fetch_ms = t.elapsed().as_millis() as u64;
    out.catalog_version = Some(res.catalog_version);
    let rows: HashMap<String, _> = res
        .rows
        .into_iter()
        .map(|r| (field(&r, "evidence_id"), r))
        .collect();
    for h in &hits {
        let Some(r) = rows.get(&h.id) else {
            tracing::warn!(id = %h.id, "an indexed record is not in the evidence dataset");
            continue;
        };
        let mut label = format!("{} {}", field(r, "kind"), field(r, "day"));
        for k in ["model", "task"] {
            let v = field(r, k);
            if !v.is_empty() {
                label.push_str(&format!(" {k}={v}"));
            }
        }
        out.evidence.push(Evidence {
            id: h.id.clone(),
            distance: h.distance,
            label,
            prompt: field(r, "prompt"),
            response: field(r, "response"),
        });
    }
    Ok(out)
}
