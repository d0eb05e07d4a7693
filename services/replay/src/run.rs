//! One replay run: for each task, retrieve → bundle → chat → validate, then log every row
//! at once: Parquet to `replay_runs/day=YYYY-MM-DD/<run_id>.parquet` (appended to the
//! `replay_runs` dataset) and JSON lines to `raw/replay_run/<run_id>.jsonl`. A chat that
//! fails after its retries becomes a row with verdict `error`; rows that cannot be stored
//! are written to a local file, so none is lost.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use lakehouse_common::config::RetrieveMode;
use lakehouse_jobs::JobContext;
use lakehouse_jobs::chat::{ChatClient, Message};
use lakehouse_jobs::embed::Embedder;
use lakehouse_jobs::retry::{Backoff, retry};
use lakehouse_types::{DataObject, ObjectKey};
use serde::Serialize;
use time::OffsetDateTime;

use crate::bundle::{Bundle, bundle};
use crate::playbook::{Playbook, Success};
use crate::retrieve::{Retrieved, retrieve};
use crate::row::{ARROW_SCHEMA, DATASET, ReplayRow, SCHEMA, to_batch};
use crate::task::Task;
use lakehouse_validate::{Context, run_all};

/// What to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Index searched.
    pub index: String,
    /// Evidence per task, unless the task says.
    pub k: usize,
    /// Token budget of the bundled prompt.
    pub budget_tokens: u64,
    /// Retrieve and bundle only.
    pub dry_run: bool,
    /// Model override.
    pub model: Option<String>,
    /// Retry policy for chat (tests shorten it).
    pub chat_backoff: Option<Backoff>,
    /// Retrieve and fetch as at this catalog version or time (the index as its commit
    /// then): a task replayed later sees exactly the evidence it saw.
    pub as_of: Option<lakehouse_types::AsOf>,
    /// One SQL statement, or a search and then a query.
    pub retrieve: RetrieveMode,
    /// Rank by the task's keywords (BM25 over the index's text field) fused with its vector.
    pub hybrid: bool,
    /// Record passing answers into a playbook index (and with `use_examples`, offer them).
    pub playbook: Option<Playbook>,
}

/// A task retrieved and bundled (what `--dry-run` shows).
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// Task id.
    pub task_id: String,
    /// Ids and distances found.
    pub retrieved: Vec<(String, f32)>,
    /// Ids bundled.
    pub bundled_ids: Vec<String>,
    /// Estimated tokens.
    pub bundle_tokens: u64,
    /// The messages that would be sent.
    pub messages: Vec<Message>,
    /// The catalog version the evidence was read at.
    pub catalog_version: Option<u64>,
    /// Milliseconds of each step: embed, search, fetch, bundle.
    pub timings_ms: BTreeMap<&'static str, u64>,
}

/// The run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The run.
    pub run_id: String,
    /// Rows, one per task (empty in a dry run).
    pub rows: Vec<ReplayRow>,
    /// Dry run: the bundles.
    pub planned: Vec<Planned>,
    /// Objects written.
    pub objects: Vec<String>,
    /// `replay_runs` version after the run.
    pub dataset_version: Option<u64>,
    /// Milliseconds storing the rows.
    pub log_ms: u64,
    /// Where rows went when storage refused them.
    pub saved_locally: Option<String>,
    /// Why logging failed.
    pub error: Option<String>,
}

impl Outcome {
    /// Tasks that did not pass.
    pub fn not_passed(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict != "pass").count()
    }
}

fn ms(t: Instant) -> i64 {
    t.elapsed().as_millis() as i64
}

/// Versions read once per run, so every row names the state it saw.
struct Versions {
    dataset: Option<i64>,
    index: Option<i64>,
}

async fn versions(ctx: &JobContext, index: &str) -> Result<Versions, String> {
    let rid = ctx.rid();
    let info = ctx
        .gateway
        .vectors
        .info(index, &rid)
        .await
        .map_err(|e| format!("index '{index}': {e}"))?
        .ok_or_else(|| {
            format!(
                "there is no vector index '{index}': run `materializer run --index {index}` first"
            )
        })?;
    let dataset = ctx
        .gateway
        .catalog
        .manifest("evidence", &rid)
        .await
        .map_err(|e| format!("the 'evidence' manifest: {e}"))?
        .map(|m| m.version as i64);
    Ok(Versions {
        dataset,
        index: Some(info.version as i64),
    })
}

/// Runs `tasks`.
pub async fn run(
    ctx: &JobContext,
    embedder: Arc<dyn Embedder>,
    tasks: &[Task],
    opts: &Options,
    mut on_row: impl FnMut(&ReplayRow),
) -> Result<Outcome, String> {
    let run_id = lakehouse_jobs::runid::new_run_id();
    let cfg = &ctx.config;
    let v = versions(ctx, &opts.index).await?;
    let mut chat = ChatClient::new(ctx.gateway.v1.clone(), &cfg.chat);
    if let Some(b) = opts.chat_backoff {
        chat = chat.with_backoff(b);
    }
    let mut out = Outcome {
        run_id: run_id.clone(),
        rows: Vec::new(),
        planned: Vec::new(),
        objects: Vec::new(),
        dataset_version: None,
        log_ms: 0,
        saved_locally: None,
        error: None,
    };
    let mut mode = opts.retrieve;
    if let Some(p) = &opts.playbook {
        crate::playbook::prepare(&ctx.gateway, p, embedder.dimension(), &ctx.rid()).await?;
    }
    for task in tasks {
        let rid = format!("replay-{run_id}-{}", task.id);
        let ts = OffsetDateTime::now_utc();
        let start = Instant::now();
        let k = task.k.unwrap_or(opts.k);
        let system = task
            .system
            .clone()
            .unwrap_or_else(|| cfg.replay.system_prompt.clone());
        let mut found = None;
        while found.is_none() {
            found = retrieve(
                &ctx.gateway,
                embedder.as_ref(),
                mode,
                &opts.index,
                &task.prompt,
                k,
                opts.as_of.as_ref(),
                opts.hybrid,
                &rid,
            )
            .await?;
            if found.is_none() {
                tracing::warn!(
                    "queryd cannot run vector_search (is [queryd] vectord_url this fleet's vectord?); retrieving by a search and a query instead"
                );
                mode = RetrieveMode::Calls;
            }
        }
        let found: Retrieved = found.unwrap_or_default();
        let examples = match &opts.playbook {
            Some(p) => {
                crate::playbook::examples(&ctx.gateway, p, &found.query_vector, &rid).await?
            }
            None => Vec::new(),
        };
        let t = Instant::now();
        let offered = [found.evidence.as_slice(), &examples].concat();
        let b: Bundle = bundle(&system, &offered, &task.prompt, opts.budget_tokens);
        let bundle_ms = ms(t);
        if opts.dry_run {
            out.planned.push(Planned {
                task_id: task.id.clone(),
                retrieved: found.hits,
                bundled_ids: b.included,
                bundle_tokens: b.tokens,
                messages: b.messages,
                catalog_version: found.catalog_version,
                timings_ms: BTreeMap::from([
                    ("embed", found.embed_ms),
                    ("search", found.search_ms),
                    ("fetch", found.fetch_ms),
                    ("bundle", bundle_ms as u64),
                ]),
            });
            continue;
        }
        let model = task
            .model
            .clone()
            .or_else(|| opts.model.clone())
            .or_else(|| cfg.chat.model.clone());
        let max_tokens = task.max_tokens.unwrap_or(cfg.replay.max_tokens);
        let t = Instant::now();
        let answer = chat
            .complete(model.as_deref(), &b.messages, max_tokens, &rid)
            .await;
        let chat_ms = ms(t);
        let t = Instant::now();
        let (response, usage, attempts, verdict, failures, error, answered_by) = match answer {
            Ok(c) => {
                let evidence_ids: Vec<String> = found.hits.iter().map(|h| h.0.clone()).collect();
                let ctx = Context {
                    evidence_ids: &evidence_ids,
                };
                let failures = run_all(&task.validators, &c.content, &ctx);
                let verdict = if failures.is_empty() { "pass" } else { "fail" };
                (
                    c.content, c.usage, c.attempts, verdict, failures, None, c.model,
                )
            }
            Err(f) => (
                String::new(),
                None,
                f.attempts,
                "error",
                vec![format!("chat: {}", f.kind)],
                Some(f.error),
                None,
            ),
        };
        let validate_ms = ms(t);
        let row = ReplayRow {
            schema: SCHEMA,
            run_id: run_id.clone(),
            task_id: task.id.clone(),
            ts,
            prompt: task.prompt.clone(),
            system_prompt: system,
            model: model.or(answered_by),
            response,
            prompt_tokens: usage.map(|u| u.prompt_tokens as i64),
            completion_tokens: usage.map(|u| u.completion_tokens as i64),
            total_tokens: usage.map(|u| u.total_tokens as i64),
            bundle_tokens: b.tokens as i64,
            latency_ms: ms(start),
            embed_ms: found.embed_ms as i64,
            search_ms: found.search_ms as i64,
            fetch_ms: found.fetch_ms as i64,
            bundle_ms,
            chat_ms,
            validate_ms,
            attempts: i64::from(attempts),
            retrieved_ids: found.hits.iter().map(|h| h.0.clone()).collect(),
            retrieved_distances: found.hits.iter().map(|h| f64::from(h.1)).collect(),
            playbook_ids: examples
                .iter()
                .filter(|e| b.included.contains(&e.id))
                .map(|e| e.id.clone())
                .collect(),
            playbook_entry: None,
            bundled_ids: b.included,
            dataset_version: v.dataset,
            index_name: opts.index.clone(),
            index_version: v.index,
            catalog_version: found.catalog_version.map(|v| v as i64),
            verdict: verdict.into(),
            failures,
            error,
        };
        let mut row = row;
        if let Some(p) = opts.playbook.as_ref().filter(|_| row.verdict == "pass") {
            row.playbook_entry =
                record_success(ctx, p, &found.query_vector, task, &row, &rid).await;
        }
        on_row(&row);
        out.rows.push(row);
    }
    if !opts.dry_run && !out.rows.is_empty() {
        let t = Instant::now();
        if let Err(e) = log_rows(ctx, &mut out).await {
            let path = PathBuf::from(&cfg.replay.tmp_dir).join(format!("{run_id}.jsonl"));
            out.saved_locally = save_locally(&path, &out.rows).ok();
            out.error = Some(e);
        }
        out.log_ms = t.elapsed().as_millis() as u64;
    }
    Ok(out)
}

/// Records a passing answer into the playbook; its entry id. A failure to record is a
/// warning: the task's own answer and row stand.
async fn record_success(
    ctx: &JobContext,
    p: &Playbook,
    vector: &[f32],
    task: &Task,
    row: &ReplayRow,
    rid: &str,
) -> Option<String> {
    let evidence_ids: Vec<String> = row
        .bundled_ids
        .iter()
        .filter(|id| !id.contains('/'))
        .cloned()
        .collect();
    let s = Success {
        task_id: &task.id,
        task: &task.prompt,
        answer: &row.response,
        evidence_ids: &evidence_ids,
        validators: task
            .validators
            .iter()
            .map(lakehouse_validate::Validator::name)
            .collect(),
        run_id: &row.run_id,
        catalog_version: row.catalog_version,
        index_version: row.index_version,
        ts: row
            .ts
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    match crate::playbook::record(&ctx.gateway, p, vector, &s, rid).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(task = %task.id, "{e}");
            None
        }
    }
}

fn jsonl(rows: &[ReplayRow]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut body, r).map_err(|e| e.to_string())?;
        body.push(b'\n');
    }
    Ok(body)
}

fn save_locally(path: &PathBuf, rows: &[ReplayRow]) -> Result<String, String> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, jsonl(rows)?).map_err(|e| e.to_string())?;
    Ok(path.display().to_string())
}

pub(crate) async fn put(ctx: &JobContext, key: &str, body: Vec<u8>) -> Result<u64, String> {
    let k = ObjectKey::parse(key.to_owned()).map_err(|e| e.to_string())?;
    let rid = ctx.rid();
    retry(Backoff::new(4), || {
        ctx.gateway.storage.put(&k, body.clone(), &rid)
    })
    .await
    .result
    .map(|r| r.size)
    .map_err(|e| format!("storing {key}: {e}"))
}

async fn log_rows(ctx: &JobContext, out: &mut Outcome) -> Result<(), String> {
    let mut by_day: BTreeMap<time::Date, Vec<&ReplayRow>> = BTreeMap::new();
    for r in &out.rows {
        by_day.entry(r.ts.date()).or_default().push(r);
    }
    let dir = PathBuf::from(&ctx.config.replay.tmp_dir).join(&out.run_id);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut objects = Vec::new();
    for (day, rows) in by_day {
        let key = format!(
            "{DATASET}/day={}/{}.parquet",
            lakehouse_jobs::output::day_partition(day),
            out.run_id
        );
        let path = dir.join(format!("{}.parquet", objects.len()));
        let batch = to_batch(&rows)?;
        lakehouse_jobs::output::write_parquet(&path, &ARROW_SCHEMA, &[batch])?;
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let size = put(ctx, &key, bytes).await?;
        objects.push(DataObject {
            key,
            size,
            row_count: rows.len() as u64,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let raw_key = format!("raw/replay_run/{}.jsonl", out.run_id);
    put(ctx, &raw_key, jsonl(&out.rows)?).await?;
    out.objects = objects.iter().map(|o| o.key.clone()).collect();
    out.objects.push(raw_key);
    let rid = ctx.rid();
    let r = lakehouse_jobs::output::publish(
        &ctx.gateway.catalog,
        DATASET,
        &ARROW_SCHEMA,
        objects,
        &rid,
    )
    .await
    .map_err(|e| format!("appending to '{DATASET}': {e}"))?;
    out.dataset_version = Some(r.manifest.version);
    Ok(())
}
