//! Retrieval: embed the task as a query, then find the nearest records with their text from
//! the `evidence` dataset — in one SQL statement joining `vector_search(...)` with the
//! dataset (`[replay] retrieve = "sql"`), or by a search and then a query by ids (`calls`).
//! Both read one catalog version (the `as_of` asked for, else the answer's), so a replay of an
//! old task sees exactly what it saw then.

use std::collections::HashMap;
use std::time::Instant;

use lakehouse_client::Gateway;
use lakehouse_client::sql::literal;
use lakehouse_client::vectors::TextQuery;
use lakehouse_common::config::RetrieveMode;
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
    /// Milliseconds searching (with `sql`, the one statement that searches and fetches).
    pub search_ms: u64,
    /// Milliseconds fetching text (0 with `sql`: the statement did both).
    pub fetch_ms: u64,
    /// The catalog version the evidence was read at.
    pub catalog_version: Option<u64>,
    /// The task's query vector (the playbook is searched and recorded with it).
    pub query_vector: Vec<f32>,
}

fn field(row: &serde_json::Map<String, Value>, k: &str) -> String {
    match row.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The columns read of each record.
const COLUMNS: &str =
    "evidence_id, kind, CAST(day AS VARCHAR) AS day, model, task, prompt, response";

/// Top `k` evidence for `query` from `index`, retrieved as `mode` says. `Ok(None)` when
/// `mode` is `sql` and queryd cannot search (see [`no_vector_search`]).
#[allow(clippy::too_many_arguments)]
pub async fn retrieve(
    gw: &Gateway,
    embedder: &dyn Embedder,
    mode: RetrieveMode,
    index: &str,
    query: &str,
    k: usize,
    as_of: Option<&AsOf>,
    hybrid: bool,
    rid: &str,
) -> Result<Option<Retrieved>, String> {
    let t = Instant::now();
    let v = embedder
        .embed(&[query.to_owned()], Purpose::Query)
        .await
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("the embedder returned nothing")?;
    let embed_ms = t.elapsed().as_millis() as u64;
    // Keywords are vectord's to rank (SQL's vector_search takes a vector): hybrid goes by calls.
    let text = hybrid.then(|| TextQuery {
        text: query.to_owned(),
        fusion: None,
    });
    let found = match (mode, &text) {
        (RetrieveMode::Sql, None) => by_statement(gw, index, &v, k, as_of, rid).await?,
        _ => Some(by_calls(gw, index, &v, text.as_ref(), k, as_of, rid).await?),
    };
    Ok(found.map(|mut r| {
        r.embed_ms = embed_ms;
        r.query_vector = v;
        r
    }))
}

/// One statement: the search joined with the records. The hits' `day` metadata joins too, so
/// DuckDB skips every object of other days (one day per object) instead of scanning them all.
async fn by_statement(
    gw: &Gateway,
    index: &str,
    vector: &[f32],
    k: usize,
    as_of: Option<&AsOf>,
    rid: &str,
) -> Result<Option<Retrieved>, String> {
    let vector = vector
        .iter()
        .map(f32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "WITH v AS (SELECT id, distance, rank, \
           TRY_CAST(regexp_extract(metadata, '\"day\":\"([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})\"', 1) AS DATE) AS hit_day \
         FROM vector_search({}, [{vector}]::FLOAT[], k => {k})) \
         SELECT v.id AS hit_id, v.distance AS hit_distance, e.* \
         FROM v LEFT JOIN (SELECT {COLUMNS}, day AS record_day FROM evidence) e \
           ON e.evidence_id = v.id AND e.record_day = v.hit_day \
         ORDER BY v.rank",
        literal(index)
    );
    let t = Instant::now();
    let res = match gw.sql.query_at(&sql, Some(k as u64), as_of, rid).await {
        Ok(r) => r,
        Err(e) if no_vector_search(&e) => return Ok(None),
        Err(e) => return Err(format!("retrieving from index '{index}': {e}")),
    };
    let mut out = Retrieved {
        search_ms: t.elapsed().as_millis() as u64,
        catalog_version: Some(res.catalog_version),
        ..Retrieved::default()
    };
    for r in &res.rows {
        let id = field(r, "hit_id");
        let distance = r
            .get("hit_distance")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN) as f32;
        out.hits.push((id.clone(), distance));
        if r.get("evidence_id").is_none_or(Value::is_null) {
            tracing::warn!(id = %id, "an indexed record is not in the evidence dataset (or its day differs)");
            continue;
        }
        out.evidence.push(evidence(id, distance, r));
    }
    Ok(Some(out))
}

/// Whether queryd cannot search: it has no `vector_search`, or cannot reach vectord (its
/// `[queryd] vectord_url` is not this fleet's), while the gateway may still.
fn no_vector_search(e: &lakehouse_client::ClientError) -> bool {
    matches!(e, lakehouse_client::ClientError::Status { status, code, message, .. }
        if (status.as_u16() == 400 && message.contains("vector_search") && message.contains("does not exist"))
            || (status.as_u16() == 502 && code == "vectord_unavailable"))
}

/// Two calls: vectord's search route, then SQL by ids (and the hits' days).
async fn by_calls(
    gw: &Gateway,
    index: &str,
    v: &[f32],
    text: Option<&TextQuery>,
    k: usize,
    as_of: Option<&AsOf>,
    rid: &str,
) -> Result<Retrieved, String> {
    let mut out = Retrieved::default();
    let t = Instant::now();
    let hits = gw
        .vectors
        .search_with(index, v, text, k, as_of, rid)
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
    let sql = format!("SELECT {COLUMNS} FROM evidence WHERE evidence_id IN ({ids}){day_filter}");
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
        out.evidence.push(evidence(h.id.clone(), h.distance, r));
    }
    Ok(out)
}

/// A record as the bundle shows it.
fn evidence(id: String, distance: f32, r: &serde_json::Map<String, Value>) -> Evidence {
    let mut label = format!("{} {}", field(r, "kind"), field(r, "day"));
    for k in ["model", "task"] {
        let v = field(r, k);
        if !v.is_empty() {
            label.push_str(&format!(" {k}={v}"));
        }
    }
    Evidence {
        id,
        distance,
        label,
        prompt: field(r, "prompt"),
        response: field(r, "response"),
        example: false,
    }
}
