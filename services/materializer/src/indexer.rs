//! With `--index NAME`: new rows are embedded and upserted into a vector index while the
//! run reads on. Batches of [`BATCH`] rows, a few in flight at once; upserts are retried on
//! 5xx (vectord answers 503 when it cannot log a write). After a failure the queue is still
//! drained, so the reader never blocks, and the run fails before publishing.

use std::sync::Arc;

use lakehouse_client::VectorClient;
use lakehouse_client::vectors::VectorItem;
use lakehouse_jobs::embed::{Embedder, Purpose};
use lakehouse_jobs::retry::{Backoff, retry};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::receipt::IndexReport;

/// Rows per embed-and-upsert batch.
pub const BATCH: usize = 256;

/// Batches in flight at once.
const IN_FLIGHT: usize = 3;

/// One row to index.
#[derive(Debug, Clone)]
pub struct IndexItem {
    /// The evidence id (the vector's id).
    pub id: String,
    /// What is embedded.
    pub text: String,
    /// `evidence_id`, `day`, `kind`.
    pub metadata: Map<String, Value>,
}

/// The text field the materializer gives an index it creates with `--index-text`.
pub const TEXT_FIELD: &str = "text";

/// A record's text kept in the index's metadata for keyword search, at most this many bytes
/// (the head of the prompt and response, cut on a character boundary).
pub const TEXT_BYTES: usize = 4_096;

/// Creates the index if needed (cosine, the embedder's dimension; with `text`, a keyword field)
/// and checks its dimension; the index's text field, whose metadata each upsert fills.
pub async fn prepare(
    vectors: &VectorClient,
    name: &str,
    embedder: &dyn Embedder,
    text: bool,
    rid: &str,
) -> Result<Option<String>, String> {
    let field = text.then_some(TEXT_FIELD);
    let info = vectors
        .ensure_with(name, embedder.dimension(), "cosine", field, rid)
        .await
        .map_err(|e| format!("index '{name}': {e}"))?;
    if text && info.text_field.is_none() {
        return Err(format!(
            "index '{name}' has no text field (it was made without --index-text); index into a new one"
        ));
    }
    if info.params.dimension != embedder.dimension() {
        return Err(format!(
            "index '{name}' holds {}-d vectors; the {} embedder makes {}-d ones",
            info.params.dimension,
            embedder.provider(),
            embedder.dimension()
        ));
    }
    Ok(info.text_field)
}

fn clipped(s: &str) -> String {
    let mut end = s.len().min(TEXT_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

async fn one_batch(
    vectors: VectorClient,
    embedder: Arc<dyn Embedder>,
    name: Arc<str>,
    text_field: Option<Arc<str>>,
    items: Vec<IndexItem>,
) -> Result<usize, String> {
    let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
    let vecs = embedder
        .embed(&texts, Purpose::Document)
        .await
        .map_err(|e| e.to_string())?;
    let batch: Vec<VectorItem> = items
        .into_iter()
        .zip(vecs)
        .map(|(i, v)| {
            let mut metadata = i.metadata;
            if let Some(f) = &text_field {
                metadata.insert(f.to_string(), Value::String(clipped(&i.text)));
            }
            VectorItem {
                id: i.id,
                vector: v,
                metadata: Some(metadata),
            }
        })
        .collect();
    let rid = format!(
        "materializer-index-{}",
        batch.first().map_or("", |b| b.id.as_str())
    );
    retry(Backoff::new(4), || vectors.add(&name, &batch, &rid))
        .await
        .result
        .map(|_| batch.len())
        .map_err(|e| format!("upsert into '{name}': {e}"))
}

/// Consumes `rx` until it closes; the rows upserted, or the first error.
pub async fn run(
    vectors: VectorClient,
    embedder: Arc<dyn Embedder>,
    name: String,
    text_field: Option<String>,
    mut rx: mpsc::Receiver<IndexItem>,
) -> Result<IndexReport, String> {
    let name: Arc<str> = name.into();
    let text_field: Option<Arc<str>> = text_field.map(Into::into);
    let mut tasks: JoinSet<Result<usize, String>> = JoinSet::new();
    let mut upserted = 0u64;
    let mut error: Option<String> = None;
    let mut done = false;
    while !done {
        let mut items = Vec::with_capacity(BATCH);
        match rx.recv().await {
            Some(i) => items.push(i),
            None => done = true,
        }
        while items.len() < BATCH {
            match rx.try_recv() {
                Ok(i) => items.push(i),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    done = true;
                    break;
                }
            }
        }
        if items.is_empty() || error.is_some() {
            continue;
        }
        tasks.spawn(one_batch(
            vectors.clone(),
            embedder.clone(),
            name.clone(),
            text_field.clone(),
            items,
        ));
        while tasks.len() >= IN_FLIGHT {
            collect(tasks.join_next().await, &mut upserted, &mut error);
        }
    }
    while let Some(r) = tasks.join_next().await {
        collect(Some(r), &mut upserted, &mut error);
    }
    if let Some(e) = error {
        return Err(e);
    }
    let rid = format!("materializer-index-{name}");
    let version = vectors
        .info(&name, &rid)
        .await
        .ok()
        .flatten()
        .map_or(0, |i| i.version);
    Ok(IndexReport {
        name: name.to_string(),
        provider: embedder.provider().into(),
        dimension: embedder.dimension(),
        upserted,
        version,
        catalog_version: None,
    })
}

fn collect(
    r: Option<Result<Result<usize, String>, tokio::task::JoinError>>,
    upserted: &mut u64,
    error: &mut Option<String>,
) {
    match r {
        Some(Ok(Ok(n))) => *upserted += n as u64,
        Some(Ok(Err(e))) => {
            error.get_or_insert(e);
        }
        Some(Err(e)) => {
            error.get_or_insert(format!("indexing task failed: {e}"));
        }
        None => {}
    }
}
