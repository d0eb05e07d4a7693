//! The run receipt, stored at `_receipts/materializer/<run_id>.json`: what was read (with
//! hashes), what each kind gave, what was rejected and why, what was written.

use std::collections::BTreeMap;

use serde::Serialize;

/// Rejections listed one by one at most; the rest are only counted.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// The receipt.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// `materializer_receipt.v1`.
    pub schema: &'static str,
    /// This run.
    pub run_id: String,
    /// `ok`, `dry_run` or `failed`.
    pub status: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC.
    pub finished_at: String,
    /// The storage prefix or local path read.
    pub input: String,
    /// One entry per file.
    pub inputs: Vec<InputReport>,
    /// Counts per record kind.
    pub kinds: BTreeMap<String, KindStats>,
    /// Rejected lines (the first [`MAX_LISTED_REJECTIONS`]).
    pub rejections: Vec<Rejection>,
    /// Rejected lines not listed.
    pub rejections_unlisted: u64,
    /// Evidence objects written (or that would be).
    pub outputs: Vec<Output>,
    /// The dataset after the run.
    pub dataset: Option<DatasetReport>,
    /// The vector index, with `--index`.
    pub index: Option<IndexReport>,
    /// SSN-shaped strings redacted in the new rows.
    pub redactions: u64,
    /// Milliseconds per phase.
    pub timings_ms: BTreeMap<&'static str, u64>,
    /// Why the run failed.
    pub error: Option<String>,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// Storage key or local path.
    pub source: String,
    /// Its kind (`null`: none in its path; the file was not read).
    pub kind: Option<String>,
    /// Hex sha256 of its bytes.
    pub sha256: String,
    /// Bytes.
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
    /// New rows.
    pub materialized: u64,
    /// Rows already in the dataset (or earlier in this run).
    pub duplicate: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Why it could not be read, if so.
    pub error: Option<String>,
}

/// Per-kind counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindStats {
    /// Non-blank lines read.
    pub read: u64,
    /// New rows (an OTLP line can give several).
    pub materialized: u64,
    /// Rows already present.
    pub duplicate: u64,
    /// Lines rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
}

/// One rejected line.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// File.
    pub source: String,
    /// 1-based line.
    pub line: u64,
    /// Kind.
    pub kind: String,
    /// Reason code.
    pub reason: String,
    /// Specifics.
    pub detail: String,
}

/// One evidence object.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// Storage key.
    pub key: String,
    /// Day partition.
    pub day: String,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The `evidence` dataset after the run.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetReport {
    /// `evidence`.
    pub name: String,
    /// Manifest version.
    pub version: u64,
    /// The catalog version of the dataset's snapshot after the run (what a replay names as
    /// `--as-of` to see exactly this evidence).
    pub catalog_version: u64,
    /// Rows in all.
    pub row_count: u64,
    /// Whether this run changed the manifest.
    pub changed: bool,
}

/// The vector index written with `--index`.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// Index name.
    pub name: String,
    /// Embedding provider.
    pub provider: String,
    /// Vector length.
    pub dimension: usize,
    /// Rows embedded and upserted.
    pub upserted: u64,
    /// The index's version after the last upsert.
    pub version: u64,
    /// The catalog version of the index commit made at the end of the run (none when
    /// nothing was upserted).
    pub catalog_version: Option<u64>,
}

impl Receipt {
    /// An empty receipt for a run starting now.
    pub fn new(run_id: &str, input: &str, dry_run: bool) -> Self {
        Self {
            schema: "materializer_receipt.v1",
            run_id: run_id.to_owned(),
            status: "running".into(),
            dry_run,
            started_at: now(),
            finished_at: String::new(),
            input: input.to_owned(),
            inputs: Vec::new(),
            kinds: BTreeMap::new(),
            rejections: Vec::new(),
            rejections_unlisted: 0,
            outputs: Vec::new(),
            dataset: None,
            index: None,
            redactions: 0,
            timings_ms: BTreeMap::new(),
            error: None,
        }
    }

    /// Its storage key.
    pub fn key(&self) -> String {
        format!("_receipts/materializer/{}.json", self.run_id)
    }

    /// Totals over kinds: (read, materialized, duplicate, rejected).
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.kinds.values().fold((0, 0, 0, 0), |t, k| {
            (
                t.0 + k.read,
                t.1 + k.materialized,
                t.2 + k.duplicate,
                t.3 + k.rejected.values().sum::<u64>(),
            )
        })
    }

    /// One screen for a person.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let (read, new, dup, rej) = self.totals();
        let total_ms = self.timings_ms.get("total").copied().unwrap_or(0);
        let _ = writeln!(s, "materializer run {} — {}", self.run_id, self.status);
        let _ = writeln!(
            s,
            "  {} file(s) from {}; {read} line(s) read in {:.1} s ({:.0} lines/s)",
            self.inputs.len(),
            self.input,
            total_ms as f64 / 1000.0,
            read as f64 * 1000.0 / total_ms.max(1) as f64
        );
        let _ = writeln!(
            s,
            "  {:<20} {:>10} {:>12} {:>10} {:>9}",
            "kind", "read", "materialized", "duplicate", "rejected"
        );
        for (k, st) in &self.kinds {
            let _ = writeln!(
                s,
                "  {:<20} {:>10} {:>12} {:>10} {:>9}",
                k,
                st.read,
                st.materialized,
                st.duplicate,
                st.rejected.values().sum::<u64>()
            );
        }
        let _ = writeln!(
            s,
            "  {:<20} {read:>10} {new:>12} {dup:>10} {rej:>9}",
            "total"
        );
        for r in self.rejections.iter().take(5) {
            let _ = writeln!(
                s,
                "  rejected {}:{} ({}): {}",
                r.source, r.line, r.reason, r.detail
            );
        }
        if self.rejections.len() > 5 || self.rejections_unlisted > 0 {
            let _ = writeln!(s, "  … all rejections are in the receipt");
        }
        let verb = if self.dry_run { "would write" } else { "wrote" };
        let rows: u64 = self.outputs.iter().map(|o| o.rows).sum();
        let bytes: u64 = self.outputs.iter().map(|o| o.bytes).sum();
        let _ = writeln!(
            s,
            "  {verb} {} object(s), {rows} row(s), {:.1} MiB; {} redaction(s)",
            self.outputs.len(),
            bytes as f64 / 1048576.0,
            self.redactions
        );
        if self.dry_run {
            for o in self.outputs.iter().take(10) {
                let _ = writeln!(s, "    {} ({} rows)", o.key, o.rows);
            }
        }
        if let Some(d) = &self.dataset {
            let _ = writeln!(
                s,
                "  dataset {}: version {}, {} rows{}",
                d.name,
                d.version,
                d.row_count,
                if d.changed { "" } else { " (unchanged)" }
            );
        }
        if let Some(i) = &self.index {
            let _ = writeln!(
                s,
                "  index {}: {} vector(s) upserted ({} embeddings, {}-d), version {}",
                i.name, i.upserted, i.provider, i.dimension, i.version
            );
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "  error: {e}");
        }
        if !self.dry_run {
            let _ = writeln!(s, "  receipt: {}", self.key());
        }
        s
    }
}

/// Now, RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
