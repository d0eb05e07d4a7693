//! The blocking half of a run: lines → transforms → rows, duplicates dropped, rows buffered
//! per day and staged as Parquet files (with their id sidecars) in a local directory.
//! Memory stays bounded: a day's buffer is staged when it reaches the row or byte limit, and
//! the largest buffer when all of them together do.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::Date;
use tokio::sync::mpsc;

use crate::canonical::id_bytes;
use crate::indexer::IndexItem;
use crate::inputs::{FileStats, each_line};
use crate::known::{self, Id};
use crate::normalize::{Origin, day_string, rows_of};
use crate::receipt::{InputReport, KindStats, MAX_LISTED_REJECTIONS, Rejection};
use crate::record::{ARROW_SCHEMA, Evidence, to_batch};
use crate::transforms::{Reject, Transform, lookup};
use lakehouse_jobs::progress::Progress;

/// Bytes of text one object holds at most (compressed, it stays far under storaged's cap).
const MAX_OBJECT_TEXT_BYTES: usize = 128 << 20;

/// Lines transformed together, spread over the cores.
const BATCH_LINES: usize = 4096;

/// What one line gave.
enum Line {
    /// Nothing (an empty line).
    Blank,
    /// Its rows (an OTLP line can give several; all or none).
    Rows(Vec<Evidence>),
    /// Why it was not materialized.
    Rejected(Reject),
}

struct LineContext<'a> {
    transform: &'static dyn Transform,
    kind: &'static str,
    source: &'a str,
}

impl LineContext<'_> {
    fn line(&self, run: &str, n: u64, line: Option<&[u8]>) -> Line {
        let Some(line) = line else {
            return Line::Rejected(Reject::new(
                "line_too_long",
                format!("over {} bytes", crate::inputs::MAX_LINE_BYTES),
            ));
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            return Line::Blank;
        }
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => return Line::Rejected(Reject::new("invalid_json", e.to_string())),
        };
        let origin = Origin {
            kind: self.kind,
            source_key: self.source,
            line: n as i64,
            run,
        };
        match rows_of(self.transform, origin, &value) {
            Ok(rows) => Line::Rows(rows),
            Err(r) => Line::Rejected(r),
        }
    }
}

/// `f` over `items` on every core, results in order; `None` if a worker panicked (a bug:
/// the run then fails instead of losing the worker's lines).
fn parallel_map<T: HasLine + Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Option<Vec<(u64, R)>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || items.len() < 64 {
        return Some(items.iter().map(|t| (t.line_no(), f(t))).collect());
    }
    let chunk = items.len().div_ceil(workers);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(|t| (t.line_no(), f(t))).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(h.join().ok()?);
        }
        Some(out)
    })
}

/// Items that know their line number.
trait HasLine {
    fn line_no(&self) -> u64;
}

impl HasLine for (u64, Option<Vec<u8>>) {
    fn line_no(&self) -> u64 {
        self.0
    }
}

/// One staged evidence object.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Its storage key.
    pub key: String,
    /// Its sidecar's storage key.
    pub sidecar_key: String,
    /// The Parquet file.
    pub path: PathBuf,
    /// The sidecar file.
    pub sidecar_path: PathBuf,
    /// Day.
    pub day: String,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct DayBuffer {
    rows: Vec<Evidence>,
    bytes: usize,
}

/// The state of a run's processing.
#[derive(Debug)]
pub struct Processor {
    run_id: String,
    dir: PathBuf,
    max_rows: usize,
    seen: HashSet<Id>,
    buffers: BTreeMap<Date, DayBuffer>,
    buffered: usize,
    /// Staged objects.
    pub staged: Vec<Staged>,
    /// Per-kind counts.
    pub kinds: BTreeMap<String, KindStats>,
    /// Listed rejections.
    pub rejections: Vec<Rejection>,
    /// Rejections beyond the list.
    pub rejections_unlisted: u64,
    /// Redactions in new rows.
    pub redactions: u64,
    index: Option<mpsc::Sender<IndexItem>>,
    progress: Progress,
    lines: u64,
    new: u64,
}

impl Processor {
    /// A processor staging into `dir`, skipping ids in `known`, sending new rows to `index`.
    pub fn new(
        run_id: &str,
        dir: &Path,
        max_rows: usize,
        known: HashSet<Id>,
        index: Option<mpsc::Sender<IndexItem>>,
    ) -> Self {
        Self {
            run_id: run_id.to_owned(),
            dir: dir.to_owned(),
            max_rows: max_rows.max(1),
            seen: known,
            buffers: BTreeMap::new(),
            buffered: 0,
            staged: Vec::new(),
            kinds: BTreeMap::new(),
            rejections: Vec::new(),
            rejections_unlisted: 0,
            redactions: 0,
            index,
            progress: Progress::new(),
            lines: 0,
            new: 0,
        }
    }

    fn reject(&mut self, source: &str, line: u64, kind: &str, r: Reject) {
        *self
            .kinds
            .entry(kind.to_owned())
            .or_default()
            .rejected
            .entry(r.reason.to_owned())
            .or_default() += 1;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push(Rejection {
                source: source.to_owned(),
                line,
                kind: kind.to_owned(),
                reason: r.reason.to_owned(),
                detail: r.detail,
            });
        } else {
            self.rejections_unlisted += 1;
        }
    }

    /// Reads one file of `kind`; its report. Lines are parsed and transformed in parallel,
    /// in batches of [`BATCH_LINES`]; counting, dedup and staging stay in line order.
    pub fn process(
        &mut self,
        reader: impl std::io::BufRead,
        source: &str,
        kind: &'static str,
    ) -> Result<InputReport, String> {
        let transform = lookup(kind).ok_or_else(|| format!("no transform for kind {kind}"))?;
        let mut report = InputReport {
            source: source.to_owned(),
            kind: Some(kind.to_owned()),
            sha256: String::new(),
            bytes: 0,
            lines: 0,
            materialized: 0,
            duplicate: 0,
            rejected: 0,
            error: None,
        };
        let mut failure: Option<String> = None;
        let mut batch: Vec<(u64, Option<Vec<u8>>)> = Vec::with_capacity(BATCH_LINES);
        let ctx = LineContext {
            transform,
            kind,
            source,
        };
        let stats: FileStats = each_line(reader, |n, line| {
            if failure.is_some() {
                return;
            }
            batch.push((n, line.map(<[u8]>::to_vec)));
            if batch.len() >= BATCH_LINES
                && let Err(e) = self.apply(&ctx, &mut batch, &mut report)
            {
                failure = Some(e);
            }
        })
        .map_err(|e| format!("{source}: {e}"))?;
        if failure.is_none() {
            self.apply(&ctx, &mut batch, &mut report)?;
        }
        if let Some(f) = failure {
            return Err(f);
        }
        report.sha256 = stats.sha256;
        report.bytes = stats.bytes;
        report.lines = stats.lines;
        Ok(report)
    }

    fn apply(
        &mut self,
        ctx: &LineContext<'_>,
        batch: &mut Vec<(u64, Option<Vec<u8>>)>,
        report: &mut InputReport,
    ) -> Result<(), String> {
        let run = self.run_id.clone();
        let first = batch.first().map_or(0, |b| b.0);
        let results = parallel_map(batch, |(n, line)| ctx.line(&run, *n, line.as_deref()))
            .ok_or_else(|| {
                format!(
                    "{}: transforming the lines from {first} on failed (a bug; nothing was published)",
                    ctx.source
                )
            })?;
        batch.clear();
        let kind = ctx.kind;
        // Per-kind counts are summed here and added once per batch: no map lookup per line.
        let (mut read, mut duplicate, mut materialized) = (0u64, 0u64, 0u64);
        for (n, outcome) in results {
            let rows = match outcome {
                Line::Blank => continue,
                Line::Rejected(r) => {
                    read += 1;
                    report.rejected += 1;
                    self.reject(ctx.source, n, kind, r);
                    continue;
                }
                Line::Rows(rows) => rows,
            };
            self.lines += 1;
            read += 1;
            for e in rows {
                let Some(id) = id_bytes(&e.evidence_id) else {
                    continue;
                };
                if !self.seen.insert(id) {
                    duplicate += 1;
                    continue;
                }
                materialized += 1;
                self.redactions += e.redactions as u64;
                self.push(e)?;
            }
        }
        report.duplicate += duplicate;
        report.materialized += materialized;
        self.new += materialized;
        let k = self.kinds.entry(kind.to_owned()).or_default();
        k.read += read;
        k.duplicate += duplicate;
        k.materialized += materialized;
        let (lines, new) = (self.lines, self.new);
        let rate = self.progress.rate(lines);
        self.progress.tick(|| {
            format!("materializer: {lines} lines read, {new} new rows, {rate:.0} lines/s")
        });
        Ok(())
    }

    fn push(&mut self, e: Evidence) -> Result<(), String> {
        if let Some(tx) = &self.index {
            let mut metadata = serde_json::Map::new();
            metadata.insert("evidence_id".into(), e.evidence_id.clone().into());
            metadata.insert("day".into(), day_string(e.day()).into());
            metadata.insert("kind".into(), e.kind.clone().into());
            let item = IndexItem {
                id: e.evidence_id.clone(),
                text: e.embed_text(),
                metadata,
            };
            // The indexer drains its queue even after a failure, so this never blocks for
            // good; a closed queue means the run is already failing.
            let _ = tx.blocking_send(item);
        }
        let day = e.day();
        let buf = self.buffers.entry(day).or_default();
        buf.bytes += e.weight();
        buf.rows.push(e);
        self.buffered += 1;
        if buf.rows.len() >= self.max_rows || buf.bytes >= MAX_OBJECT_TEXT_BYTES {
            self.stage(day)?;
        } else if self.buffered >= self.max_rows * 2 {
            let biggest = self
                .buffers
                .iter()
                .max_by_key(|(_, b)| b.rows.len())
                .map(|(d, _)| *d);
            if let Some(d) = biggest {
                self.stage(d)?;
            }
        }
        Ok(())
    }

    /// Stages every buffer.
    pub fn finish(&mut self) -> Result<(), String> {
        self.progress.finish();
        let days: Vec<Date> = self.buffers.keys().copied().collect();
        for d in days {
            self.stage(d)?;
        }
        Ok(())
    }

    fn stage(&mut self, day: Date) -> Result<(), String> {
        let Some(mut buf) = self.buffers.remove(&day) else {
            return Ok(());
        };
        if buf.rows.is_empty() {
            return Ok(());
        }
        self.buffered -= buf.rows.len();
        buf.rows.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| a.evidence_id.cmp(&b.evidence_id))
        });
        let mut ids: Vec<Id> = buf
            .rows
            .iter()
            .filter_map(|e| id_bytes(&e.evidence_id))
            .collect();
        ids.sort_unstable();
        // The batch hash names the object by its rows, so the same rows always get the same key.
        let mut h = Sha256::new();
        for id in &ids {
            h.update(id);
        }
        let hash = hex::encode(h.finalize());
        let day_s = day_string(day);
        let key = format!("evidence/day={day_s}/{hash}.parquet");
        let path = self.dir.join(format!("{hash}.parquet"));
        let sidecar_path = self.dir.join(format!("{hash}.ids"));
        let batch = to_batch(&buf.rows)?;
        let bytes = lakehouse_jobs::output::write_parquet(&path, &ARROW_SCHEMA, &[batch])?;
        std::fs::write(&sidecar_path, known::encode(&ids)).map_err(|e| e.to_string())?;
        self.staged.push(Staged {
            sidecar_key: known::sidecar_key(&key),
            key,
            path,
            sidecar_path,
            day: day_s,
            rows: buf.rows.len() as u64,
            bytes,
        });
        Ok(())
    }

    /// Drops the index queue, so the indexer sees the end.
    pub fn close_index(&mut self) {
        self.index = None;
    }
}
