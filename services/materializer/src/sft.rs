//! `materializer export-sft`: supervised fine-tuning data from evidence that passed — scored
//! records at or above a minimum score, replay runs whose every validator passed — as
//! chat-format JSON lines (`{"messages": [system?, user, assistant]}`) and optionally Parquet,
//! behind the contamination firewall ([`crate::sft_firewall`]).
//!
//! Reproducible: every page is read at one catalog version and the rows go out in
//! `evidence_id` order, so the same version and options give byte-identical files. Each
//! export stores a receipt at `_receipts/export_sft/<export_id>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use lakehouse_client::sql::literal;
use lakehouse_jobs::JobContext;
use lakehouse_types::{AsOf, ObjectKey};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::sft_firewall::{Candidate, blocked};

/// Rows read per page.
const PAGE: u64 = 2_000;

/// What to export and where.
#[derive(Debug, Clone, Serialize)]
pub struct SftOptions {
    /// Scored records below this score are left out.
    pub min_score: f64,
    /// A SQL condition on `evidence` rows (it narrows; it cannot open the firewall).
    pub filter: Option<String>,
    /// The catalog version (or time) to read; default the current one.
    pub as_of: Option<AsOf>,
    /// The system message when a record names none.
    pub system: Option<String>,
    /// The JSON-lines file written.
    pub output: PathBuf,
    /// Also a Parquet file (evidence_id, kind, score, system, user, assistant).
    pub parquet: Option<PathBuf>,
    /// Put each record's `evidence_id` on its line.
    pub with_ids: bool,
}

/// A written file.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Where.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// Hex sha256 of its bytes.
    pub sha256: String,
}

/// The export's account.
#[derive(Debug, Clone, Serialize)]
pub struct SftReceipt {
    /// This export.
    pub export_id: String,
    /// The catalog version every row was read at.
    pub catalog_version: u64,
    /// The options it ran with.
    pub options: SftOptions,
    /// Candidate rows read (those with a score, and replay runs).
    pub rows_read: u64,
    /// Rows written.
    pub rows_exported: u64,
    /// Rows left out, by reason: `below_min_score`, `not_passed`, `empty_response`, and the
    /// firewall's `never_export_kind`, `never_export_source`, `held_out`, `redacted`, `pii`.
    pub excluded: BTreeMap<&'static str, u64>,
    /// The JSON-lines file.
    pub output: Written,
    /// The Parquet file, if asked for.
    pub parquet: Option<Written>,
    /// Where this receipt is stored.
    pub receipt_key: String,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence_id: Option<&'a str>,
    messages: Vec<Message<'a>>,
}

/// One exported example.
struct Example {
    id: String,
    kind: String,
    score: Option<f64>,
    system: Option<String>,
    user: String,
    assistant: String,
}

fn text<'a>(row: &'a Map<String, Value>, k: &str) -> &'a str {
    row.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Why a candidate row is left out, or the example it gives.
fn classify(row: &Map<String, Value>, opts: &SftOptions) -> Result<Example, &'static str> {
    let kind = text(row, "kind");
    let score = row.get("score").and_then(Value::as_f64);
    if kind == "replay_run" {
        if text(row, "outcome") != "pass" {
            return Err("not_passed");
        }
    } else if score.is_none_or(|s| s < opts.min_score) {
        return Err("below_min_score");
    }
    let tags: Vec<String> = row
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let metadata: Map<String, Value> =
        serde_json::from_str(text(row, "metadata")).unwrap_or_default();
    let system = ["system_prompt", "system"]
        .iter()
        .find_map(|k| metadata.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .or_else(|| opts.system.clone());
    let (user, assistant) = (text(row, "prompt"), text(row, "response"));
    let candidate = Candidate {
        kind,
        source_key: text(row, "source_key"),
        tags: &tags,
        metadata: &metadata,
        redactions: row.get("redactions").and_then(Value::as_i64).unwrap_or(0),
        texts: [system.as_deref().unwrap_or(""), user, assistant],
    };
    if let Some(reason) = blocked(&candidate) {
        return Err(reason);
    }
    if assistant.trim().is_empty() || user.trim().is_empty() {
        return Err("empty_response");
    }
    Ok(Example {
        id: text(row, "evidence_id").to_owned(),
        kind: kind.to_owned(),
        score,
        system,
        user: user.to_owned(),
        assistant: assistant.to_owned(),
    })
}

/// Reads the candidates page by page at one catalog version; the examples and the receipt's
/// counts.
async fn read(
    ctx: &JobContext,
    opts: &SftOptions,
) -> Result<(Vec<Example>, u64, u64, BTreeMap<&'static str, u64>), String> {
    let rid = ctx.rid();
    let mut version = opts.as_of.clone();
    let (mut examples, mut read, mut excluded) = (Vec::new(), 0u64, BTreeMap::new());
    let mut after = String::new();
    let extra = opts
        .filter
        .as_ref()
        .map(|f| format!(" AND ({f})"))
        .unwrap_or_default();
    loop {
        let sql = format!(
            "SELECT evidence_id, kind, source_key, prompt, response, score, outcome, tags, metadata, redactions \
             FROM evidence WHERE (score IS NOT NULL OR kind = 'replay_run'){extra} AND evidence_id > {} \
             ORDER BY evidence_id LIMIT {PAGE}",
            literal(&after)
        );
        let page = ctx
            .gateway
            .sql
            .query_at(&sql, Some(PAGE), version.as_ref(), &rid)
            .await
            .map_err(|e| format!("reading evidence: {e}"))?;
        version = Some(AsOf::Version(page.catalog_version));
        for row in &page.rows {
            read += 1;
            match classify(row, opts) {
                Ok(e) => examples.push(e),
                Err(reason) => *excluded.entry(reason).or_default() += 1,
            }
        }
        match page.rows.last() {
            Some(last) if page.rows.len() as u64 == PAGE => {
                after = text(last, "evidence_id").to_owned();
            }
            _ => return Ok((examples, read, page.catalog_version, excluded)),
        }
    }
}

fn jsonl(examples: &[Example], with_ids: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for e in examples {
        let mut messages = Vec::with_capacity(3);
        if let Some(s) = &e.system {
            messages.push(Message {
                role: "system",
                content: s,
            });
        }
        messages.push(Message {
            role: "user",
            content: &e.user,
        });
        messages.push(Message {
            role: "assistant",
            content: &e.assistant,
        });
        let line = Line {
            evidence_id: with_ids.then_some(e.id.as_str()),
            messages,
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

fn parquet_batch(examples: &[Example]) -> Result<(Arc<Schema>, RecordBatch), String> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("evidence_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("system", DataType::Utf8, true),
        Field::new("user", DataType::Utf8, false),
        Field::new("assistant", DataType::Utf8, false),
    ]));
    let mut cols: [StringBuilder; 5] = Default::default();
    let mut score = Float64Builder::new();
    for e in examples {
        cols[0].append_value(&e.id);
        cols[1].append_value(&e.kind);
        score.append_option(e.score);
        cols[2].append_option(e.system.as_deref());
        cols[3].append_value(&e.user);
        cols[4].append_value(&e.assistant);
    }
    let [mut id, mut kind, mut system, mut user, mut assistant] = cols;
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(score.finish()),
        Arc::new(system.finish()),
        Arc::new(user.finish()),
        Arc::new(assistant.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
    Ok((schema, batch))
}

fn describe(path: &Path) -> Result<Written, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Written {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

/// Runs the export: files written, receipt stored and returned.
pub async fn export(ctx: &JobContext, opts: SftOptions) -> Result<SftReceipt, String> {
    let (examples, rows_read, catalog_version, excluded) = read(ctx, &opts).await?;
    let body = jsonl(&examples, opts.with_ids)?;
    std::fs::write(&opts.output, &body).map_err(|e| format!("{}: {e}", opts.output.display()))?;
    let output = describe(&opts.output)?;
    let parquet = match &opts.parquet {
        Some(p) => {
            let (schema, batch) = parquet_batch(&examples)?;
            lakehouse_jobs::output::write_parquet(p, &schema, &[batch])?;
            Some(describe(p)?)
        }
        None => None,
    };
    let export_id = lakehouse_jobs::runid::new_run_id();
    let receipt = SftReceipt {
        receipt_key: format!("_receipts/export_sft/{export_id}.json"),
        export_id,
        catalog_version,
        options: opts,
        rows_read,
        rows_exported: examples.len() as u64,
        excluded,
        output,
        parquet,
    };
    let key = ObjectKey::parse(receipt.receipt_key.clone()).map_err(|e| e.to_string())?;
    let stored = serde_json::to_vec_pretty(&receipt).map_err(|e| e.to_string())?;
    ctx.gateway
        .storage
        .put(&key, stored, &ctx.rid())
        .await
        .map_err(|e| format!("storing the receipt: {e}"))?;
    Ok(receipt)
}

/// `materializer export-sft` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportSftArgs {
    /// The JSON-lines file to write.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Also write Parquet here.
    #[arg(long)]
    pub parquet: Option<PathBuf>,
    /// Scored records below this score are left out.
    #[arg(long, default_value_t = 0.8)]
    pub min_score: f64,
    /// A SQL condition on evidence rows, e.g. "model = 'qwen2.5-7b-instruct'" (it narrows the
    /// export; the firewall holds whatever it says).
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Read evidence as at a catalog version (a number) or time (RFC 3339).
    #[arg(long)]
    pub as_of: Option<String>,
    /// The system message for records that name none.
    #[arg(long)]
    pub system: Option<String>,
    /// Put each record's evidence_id on its line.
    #[arg(long)]
    pub with_ids: bool,
    /// Print the receipt as JSON even on a terminal.
    #[arg(long)]
    pub json: bool,
}

/// Runs `materializer export-sft`: 0 done, 1 the export failed, 2 bad arguments.
pub fn command(ctx: &JobContext, a: ExportSftArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    if !a.min_score.is_finite() {
        eprintln!("materializer: --min-score must be a number");
        return ExitCode::from(2);
    }
    let opts = SftOptions {
        min_score: a.min_score,
        filter: a.filter,
        as_of: a.as_of.map(|s| match s.parse::<u64>() {
            Ok(v) => AsOf::Version(v),
            Err(_) => AsOf::Time(s),
        }),
        system: a.system,
        output: a.output,
        parquet: a.parquet,
        with_ids: a.with_ids,
    };
    let rt = match lakehouse_jobs::runtime("materializer") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(export(ctx, opts)) {
        Ok(r) if lakehouse_jobs::progress::human_stdout() && !a.json => {
            println!(
                "export {}: {} of {} candidate row(s) written to {} (sha256 {}), catalog version {}",
                r.export_id,
                r.rows_exported,
                r.rows_read,
                r.output.path,
                r.output.sha256,
                r.catalog_version
            );
            for (reason, n) in &r.excluded {
                println!("  excluded {n:>6}  {reason}");
            }
            ExitCode::SUCCESS
        }
        Ok(r) => {
            match serde_json::to_string_pretty(&r) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("materializer: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("materializer: export-sft: {e}");
            ExitCode::from(1)
        }
    }
}
