//! One materializer run, start to end:
//! 1. list the inputs; 2. load the ids already in `evidence`; 3. read every file (rows
//!    staged as Parquet, new rows queued for the index); 4. upload objects and sidecars;
//! 5. wait for the index; 6. append the objects to `evidence` in one manifest change;
//! 7. store the receipt. Nothing is published unless everything before it succeeded, and a
//!    re-run after a failure redoes exactly what is missing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::TryStreamExt;
use lakehouse_jobs::JobContext;
use lakehouse_jobs::runid::new_run_id;
use lakehouse_types::{DataObject, ObjectKey};
use tokio::sync::mpsc;

use crate::inputs::{self, Input, Location};
use crate::known;
use crate::receipt::{DatasetReport, InputReport, Output, Receipt, now};
use crate::record::{ARROW_SCHEMA, DATASET};
use crate::stage::{Processor, Staged};
use crate::{indexer, transforms};

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A storage prefix or a local file or directory; `raw/` when `None`.
    pub input: Option<String>,
    /// Embed new rows into this vector index.
    pub index: Option<String>,
    /// Create the index with a keyword-searchable `text` field (each record's text then goes
    /// into its metadata, for hybrid retrieval).
    pub index_text: bool,
    /// Read and transform, write nothing.
    pub dry_run: bool,
}

/// Runs once; the receipt (also when the run failed: then `status` is `failed`).
pub async fn run(ctx: &JobContext, opts: &Options) -> Receipt {
    let run_id = new_run_id();
    let input = opts.input.clone().unwrap_or_else(|| "raw/".into());
    let mut receipt = Receipt::new(&run_id, &input, opts.dry_run);
    let dir = PathBuf::from(&ctx.config.materializer.tmp_dir).join(&run_id);
    let start = Instant::now();
    let result = match std::fs::create_dir_all(&dir) {
        Ok(()) => steps(ctx, opts, &input, &dir, &mut receipt).await,
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    receipt
        .timings_ms
        .insert("total", start.elapsed().as_millis() as u64);
    receipt.finished_at = now();
    match result {
        Ok(()) => receipt.status = if opts.dry_run { "dry_run" } else { "ok" }.into(),
        Err(e) => {
            receipt.status = "failed".into();
            receipt.error = Some(e);
        }
    }
    if !opts.dry_run
        && let Err(e) = store_receipt(ctx, &receipt).await
    {
        receipt.status = "failed".into();
        let msg = format!("cannot store the receipt: {e}");
        receipt.error = Some(match receipt.error.take() {
            Some(first) => format!("{first}; {msg}"),
            None => msg,
        });
    }
    receipt
}

async fn store_receipt(ctx: &JobContext, r: &Receipt) -> Result<(), String> {
    let key = ObjectKey::parse(r.key()).map_err(|e| e.to_string())?;
    let body = serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?;
    ctx.gateway
        .storage
        .put(&key, body, &ctx.rid())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn timed(receipt: &mut Receipt, phase: &'static str, since: Instant) {
    receipt
        .timings_ms
        .insert(phase, since.elapsed().as_millis() as u64);
}

async fn discover(ctx: &JobContext, input: &str) -> Result<Vec<Input>, String> {
    let p = Path::new(input);
    if p.exists() {
        return inputs::local(p).map_err(|e| format!("{input}: {e}"));
    }
    if !input.is_empty() {
        ObjectKey::parse(input.trim_end_matches('/')).map_err(|e| {
            format!("'{input}' is neither a local path nor a valid storage prefix: {e}")
        })?;
    }
    let keys = ctx
        .gateway
        .storage
        .list_all(input, &ctx.rid())
        .await
        .map_err(|e| format!("listing '{input}': {e}"))?;
    Ok(inputs::objects(keys))
}

async fn steps(
    ctx: &JobContext,
    opts: &Options,
    input: &str,
    dir: &Path,
    receipt: &mut Receipt,
) -> Result<(), String> {
    let gw = &ctx.gateway;
    let rid = ctx.rid();

    let t = Instant::now();
    let found = discover(ctx, input).await?;
    timed(receipt, "list", t);

    let t = Instant::now();
    let manifest = gw
        .catalog
        .manifest(DATASET, &rid)
        .await
        .map_err(|e| format!("reading the '{DATASET}' manifest: {e}"))?;
    let known = known::load(gw, manifest.as_ref(), dir, &rid).await?;
    timed(receipt, "known_ids", t);

    let mut indexing = None;
    let mut tx = None;
    if let (Some(name), false) = (&opts.index, opts.dry_run) {
        let embedder = lakehouse_jobs::embed::from_config(ctx);
        let text_field =
            indexer::prepare(&gw.vectors, name, embedder.as_ref(), opts.index_text, &rid).await?;
        let (s, r) = mpsc::channel(indexer::BATCH * 8);
        tx = Some(s);
        indexing = Some(tokio::spawn(indexer::run(
            gw.vectors.clone(),
            embedder,
            name.clone(),
            text_field,
            r,
        )));
    }

    let t = Instant::now();
    let mut p = Processor::new(
        &receipt.run_id,
        dir,
        ctx.config.materializer.max_rows_per_object,
        known,
        tx,
    );
    for input in found {
        let Some(kind) = input.kind else {
            receipt.inputs.push(unknown_kind(&input, dir, ctx).await);
            continue;
        };
        let (path, cleanup) = match &input.location {
            Location::Local(path) => (path.clone(), false),
            Location::Object(key) => {
                let path = dir.join("input.jsonl");
                let mut f = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| e.to_string())?;
                gw.storage
                    .get_to_file(key, &mut f, &rid)
                    .await
                    .map_err(|e| format!("reading {key}: {e}"))?;
                (path, true)
            }
        };
        let name = input.name.clone();
        let (back, report) = tokio::task::spawn_blocking(move || {
            let r = std::fs::File::open(&path)
                .map_err(|e| format!("{name}: {e}"))
                .and_then(|f| {
                    p.process(std::io::BufReader::with_capacity(1 << 20, f), &name, kind)
                });
            if cleanup {
                let _ = std::fs::remove_file(&path);
            }
            (p, r)
        })
        .await
        .map_err(|e| format!("processing task failed: {e}"))?;
        p = back;
        receipt.inputs.push(report?);
    }
    let (back, staged) = tokio::task::spawn_blocking(move || {
        let r = p.finish();
        (p, r)
    })
    .await
    .map_err(|e| format!("staging task failed: {e}"))?;
    p = back;
    staged?;
    p.close_index();
    receipt.kinds = std::mem::take(&mut p.kinds);
    for k in transforms::kinds() {
        if receipt.inputs.iter().any(|i| i.kind.as_deref() == Some(k)) {
            receipt.kinds.entry(k.to_owned()).or_default();
        }
    }
    receipt.rejections = std::mem::take(&mut p.rejections);
    receipt.rejections_unlisted = p.rejections_unlisted;
    receipt.redactions = p.redactions;
    receipt.outputs = p
        .staged
        .iter()
        .map(|s| Output {
            key: s.key.clone(),
            day: s.day.clone(),
            rows: s.rows,
            bytes: s.bytes,
        })
        .collect();
    timed(receipt, "transform", t);

    if opts.dry_run {
        receipt.dataset = manifest.map(|m| DatasetReport {
            name: m.name,
            version: m.version,
            catalog_version: m.catalog_version,
            row_count: m.row_count,
            changed: false,
        });
        return Ok(());
    }

    let t = Instant::now();
    upload(ctx, &p.staged).await?;
    timed(receipt, "upload", t);

    if let Some(task) = indexing {
        let t = Instant::now();
        let report = task
            .await
            .map_err(|e| format!("indexing task failed: {e}"))??;
        receipt.index = Some(report);
        timed(receipt, "index_wait", t);
    }

    let t = Instant::now();
    receipt.dataset = if p.staged.is_empty() {
        manifest.map(|m| DatasetReport {
            name: m.name,
            version: m.version,
            catalog_version: m.catalog_version,
            row_count: m.row_count,
            changed: false,
        })
    } else {
        let objects = p
            .staged
            .iter()
            .map(|s| DataObject {
                key: s.key.clone(),
                size: s.bytes,
                row_count: s.rows,
            })
            .collect();
        let r = lakehouse_jobs::output::publish(&gw.catalog, DATASET, &ARROW_SCHEMA, objects, &rid)
            .await
            .map_err(|e| format!("appending to '{DATASET}': {e}"))?;
        Some(DatasetReport {
            name: r.manifest.name,
            version: r.manifest.version,
            catalog_version: r.manifest.catalog_version,
            row_count: r.manifest.row_count,
            changed: !r.existing,
        })
    };
    timed(receipt, "publish", t);
    // The run's end state of the index, committed after the evidence so that one catalog
    // version holds both: the version a replay names to see exactly this run's output.
    if let Some(ix) = receipt.index.as_mut().filter(|ix| ix.upserted > 0) {
        let c = gw
            .vectors
            .commit(&ix.name, &rid)
            .await
            .map_err(|e| format!("committing index '{}': {e}", ix.name))?;
        ix.catalog_version = Some(c.version);
    }
    Ok(())
}

async fn unknown_kind(input: &Input, dir: &Path, ctx: &JobContext) -> InputReport {
    let stats = match &input.location {
        Location::Local(p) => std::fs::File::open(p).and_then(inputs::hash_only).ok(),
        Location::Object(key) => {
            let path = dir.join("unknown.jsonl");
            let ok = match tokio::fs::File::create(&path).await {
                Ok(mut f) => ctx
                    .gateway
                    .storage
                    .get_to_file(key, &mut f, &ctx.rid())
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            let s = if ok {
                std::fs::File::open(&path).and_then(inputs::hash_only).ok()
            } else {
                None
            };
            let _ = std::fs::remove_file(&path);
            s
        }
    }
    .unwrap_or_default();
    InputReport {
        source: input.name.clone(),
        kind: None,
        sha256: stats.sha256,
        bytes: stats.bytes,
        lines: stats.lines,
        materialized: 0,
        duplicate: 0,
        rejected: 0,
        error: Some(format!(
            "no record kind in its path; kinds are {}",
            transforms::kinds().join(", ")
        )),
    }
}

async fn upload(ctx: &JobContext, staged: &[Staged]) -> Result<(), String> {
    let gw = &ctx.gateway;
    futures::stream::iter(staged.iter().map(Ok::<_, String>))
        .try_for_each_concurrent(4, |s| async move {
            let rid = ctx.rid();
            // The object first: a sidecar never names an object that is not there.
            for (key, path) in [(&s.key, &s.path), (&s.sidecar_key, &s.sidecar_path)] {
                let k = ObjectKey::parse(key.clone()).map_err(|e| e.to_string())?;
                let f = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                    f,
                    1 << 20,
                ));
                gw.storage
                    .put(&k, body, &rid)
                    .await
                    .map_err(|e| format!("storing {key}: {e}"))?;
            }
            Ok(())
        })
        .await
}
