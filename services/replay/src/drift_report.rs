//! `replay drift`: compares two replay runs (`replay_runs`) or two time windows of evidence
//! (`evidence`) column by column ([`crate::drift`]), prints the report (a table on a
//! terminal, JSON otherwise) and appends it to the `drift_reports` dataset.
//!
//! The buckets are counted by SQL through the gateway, so a sample of any size is read
//! whole; only the counts come back.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use lakehouse_client::sql::literal;
use lakehouse_jobs::JobContext;
use lakehouse_types::DataObject;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::drift::{self, ColumnDrift, Range};

/// The dataset reports are appended to.
pub const DATASET: &str = "drift_reports";

/// `replay drift` arguments.
#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// Two replay runs: the baseline, then the one compared with it.
    #[arg(long, num_args = 2, value_names = ["BASELINE", "CURRENT"],
          required_unless_present = "windows", conflicts_with = "windows")]
    pub runs: Option<Vec<String>>,
    /// Two windows of evidence by `ts`, each `FROM..TO` (dates or RFC 3339 times; FROM
    /// included, TO not): the baseline, then the one compared with it.
    #[arg(long, num_args = 2, value_names = ["FROM..TO", "FROM..TO"])]
    pub windows: Option<Vec<String>>,
    /// A SQL condition both samples must also meet (e.g. "kind = 'openai_chat'").
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Equal-width buckets per numeric column.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub buckets: u16,
    /// Print the report only; append nothing to `drift_reports`.
    #[arg(long)]
    pub no_store: bool,
    /// Exit with status 3 when a column's verdict is at least this (`minor` or `major`).
    #[arg(long, value_parser = ["minor", "major"])]
    pub fail_on: Option<String>,
    /// Print JSON even on a terminal.
    #[arg(long)]
    pub json: bool,
}

/// What two samples are.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// `replay_runs` or `evidence`.
    pub source: &'static str,
    /// The baseline, as the user named it.
    pub a: String,
    /// The other.
    pub b: String,
    /// SQL conditions selecting each.
    #[serde(skip)]
    conditions: [String; 2],
    /// Extra condition on both.
    pub filter: Option<String>,
    /// Buckets per numeric column.
    pub buckets: usize,
}

/// A column compared: its name in the report, the SQL expression read and, when not the
/// source dataset itself, what it is read from.
struct Column {
    name: &'static str,
    expr: &'static str,
    from: Option<&'static str>,
}

const RUN_NUMERIC: &[Column] = &[
    Column {
        name: "latency_ms",
        expr: "latency_ms",
        from: None,
    },
    Column {
        name: "chat_ms",
        expr: "chat_ms",
        from: None,
    },
    Column {
        name: "prompt_tokens",
        expr: "prompt_tokens",
        from: None,
    },
    Column {
        name: "completion_tokens",
        expr: "completion_tokens",
        from: None,
    },
    Column {
        name: "bundle_tokens",
        expr: "bundle_tokens",
        from: None,
    },
    Column {
        name: "answer_chars",
        expr: "length(response)",
        from: None,
    },
    Column {
        name: "attempts",
        expr: "attempts",
        from: None,
    },
];
const RUN_CATEGORICAL: &[Column] = &[
    Column {
        name: "verdict",
        expr: "verdict",
        from: None,
    },
    Column {
        name: "model",
        expr: "model",
        from: None,
    },
    // Each failure by the validator that reported it; a row without one counts as (none).
    Column {
        name: "failures",
        expr: "split_part(failure, ':', 1)",
        from: Some(
            "(SELECT *, unnest(CASE WHEN len(failures) = 0 THEN [NULL::VARCHAR] ELSE failures END) AS failure FROM replay_runs)",
        ),
    },
];
const EVIDENCE_NUMERIC: &[Column] = &[
    Column {
        name: "latency_ms",
        expr: "latency_ms",
        from: None,
    },
    Column {
        name: "prompt_tokens",
        expr: "prompt_tokens",
        from: None,
    },
    Column {
        name: "completion_tokens",
        expr: "completion_tokens",
        from: None,
    },
    Column {
        name: "score",
        expr: "score",
        from: None,
    },
    Column {
        name: "answer_chars",
        expr: "length(response)",
        from: None,
    },
];
const EVIDENCE_CATEGORICAL: &[Column] = &[
    Column {
        name: "kind",
        expr: "kind",
        from: None,
    },
    Column {
        name: "model",
        expr: "model",
        from: None,
    },
    Column {
        name: "outcome",
        expr: "outcome",
        from: None,
    },
];

/// A window bound: a date (its midnight, UTC) or an RFC 3339 time, as a SQL literal of the
/// UTC timestamp `evidence.ts` holds.
fn bound(s: &str) -> Result<String, String> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let at = match time::Date::parse(s, &day) {
        Ok(d) => d.midnight().assume_utc(),
        Err(_) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| format!("'{s}' is neither a date (2026-11-01) nor an RFC 3339 time"))?
            .to_offset(time::UtcOffset::UTC),
    };
    let out = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    let text = at.format(&out).map_err(|e| format!("'{s}': {e}"))?;
    Ok(format!("TIMESTAMP {}", literal(&text)))
}

fn window(w: &str) -> Result<String, String> {
    let (from, to) = w
        .split_once("..")
        .ok_or_else(|| format!("window '{w}' is not FROM..TO"))?;
    Ok(format!("ts >= {} AND ts < {}", bound(from)?, bound(to)?))
}

impl Spec {
    /// From the arguments; `Err` names what is wrong with them.
    pub fn from_args(a: &DriftArgs) -> Result<Self, String> {
        let (source, names, conditions) = match (&a.runs, &a.windows) {
            (Some(r), _) => (
                "replay_runs",
                [r[0].clone(), r[1].clone()],
                [
                    format!("run_id = {}", literal(&r[0])),
                    format!("run_id = {}", literal(&r[1])),
                ],
            ),
            (None, Some(w)) => (
                "evidence",
                [w[0].clone(), w[1].clone()],
                [window(&w[0])?, window(&w[1])?],
            ),
            (None, None) => {
                return Err("give --runs BASELINE CURRENT or --windows FROM..TO FROM..TO".into());
            }
        };
        let [a_name, b_name] = names;
        Ok(Self {
            source,
            a: a_name,
            b: b_name,
            conditions,
            filter: a.filter.clone(),
            buckets: usize::from(a.buckets),
        })
    }

    fn columns(&self) -> (&'static [Column], &'static [Column]) {
        if self.source == "replay_runs" {
            (RUN_NUMERIC, RUN_CATEGORICAL)
        } else {
            (EVIDENCE_NUMERIC, EVIDENCE_CATEGORICAL)
        }
    }

    /// `SELECT 0 AS side, <expr> AS x …` over both samples.
    fn sides(&self, c: &Column, cast: &str) -> String {
        let (expr, from) = (c.expr, c.from.unwrap_or(self.source));
        let extra = self
            .filter
            .as_ref()
            .map(|f| format!(" AND ({f})"))
            .unwrap_or_default();
        (0..2)
            .map(|i| {
                format!(
                    "SELECT {i} AS side, CAST({expr} AS {cast}) AS x FROM {from} WHERE ({}){extra}",
                    self.conditions[i]
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    }

    fn numeric_sql(&self, c: &Column) -> String {
        let n = self.buckets;
        format!(
            "WITH s AS ({}), f AS (SELECT side, x FROM s WHERE x IS NOT NULL AND isfinite(x)), \
             r AS (SELECT min(x) AS lo, max(x) AS hi FROM f) \
             SELECT side, CASE WHEN r.hi > r.lo THEN LEAST(CAST(floor((x - r.lo) / ((r.hi - r.lo) / {n})) AS BIGINT), {n} - 1) ELSE 0 END AS bucket, \
             count(*) AS n, any_value(r.lo) AS lo, any_value(r.hi) AS hi FROM f, r GROUP BY side, bucket ORDER BY side, bucket",
            self.sides(c, "DOUBLE")
        )
    }

    fn categorical_sql(&self, c: &Column) -> String {
        format!(
            "SELECT side, coalesce(x, '(none)') AS v, count(*) AS n FROM ({}) GROUP BY side, v ORDER BY side, v",
            self.sides(c, "VARCHAR")
        )
    }
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Its id (also its object's name in `drift_reports`).
    pub report_id: String,
    /// When it was made.
    #[serde(serialize_with = "crate::row::rfc3339")]
    pub ts: OffsetDateTime,
    /// What was compared.
    #[serde(flatten)]
    pub spec: Spec,
    /// The catalog version every query read (all read the same one).
    pub catalog_version: u64,
    /// Per column, numeric first.
    pub columns: Vec<ColumnDrift>,
}

fn number(row: &serde_json::Map<String, Value>, k: &str) -> Result<f64, String> {
    row.get(k)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("the drift query returned no number '{k}'"))
}

/// Reads both samples through the gateway and compares every column.
pub async fn compare(ctx: &JobContext, spec: Spec) -> Result<Report, String> {
    let rid = ctx.rid();
    let sql = &ctx.gateway.sql;
    let mut version: Option<lakehouse_types::AsOf> = None;
    let mut catalog_version = 0;
    let mut columns = Vec::new();
    let (numeric, categorical) = spec.columns();
    let mut query = async |text: String| -> Result<Vec<serde_json::Map<String, Value>>, String> {
        let r = sql
            .query_at(&text, Some(100_000), version.as_ref(), &rid)
            .await
            .map_err(|e| format!("reading {}: {e}", spec.source))?;
        if r.truncated {
            return Err(format!(
                "{}: more than 100,000 distinct values",
                spec.source
            ));
        }
        // Every later query reads the version the first one did.
        catalog_version = r.catalog_version;
        version = Some(lakehouse_types::AsOf::Version(r.catalog_version));
        Ok(r.rows)
    };
    for c in numeric {
        let rows = query(spec.numeric_sql(c)).await?;
        let Some(first) = rows.first() else {
            columns.push(drift::numeric(c.name, &[], &[], spec.buckets));
            continue;
        };
        let range = Range::new(number(first, "lo")?, number(first, "hi")?, spec.buckets);
        let mut counts = vec![(0, 0); range.buckets];
        for r in &rows {
            let (side, bucket, n) = (number(r, "side")?, number(r, "bucket")?, number(r, "n")?);
            let slot = &mut counts[(bucket as usize).min(range.buckets - 1)];
            if side == 0.0 {
                slot.0 += n as u64;
            } else {
                slot.1 += n as u64;
            }
        }
        columns.push(drift::numeric_counts(c.name, &range, &counts));
    }
    for c in categorical {
        let rows = query(spec.categorical_sql(c)).await?;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for r in &rows {
            let v = r.get("v").and_then(Value::as_str).unwrap_or("(none)");
            let n = number(r, "n")? as usize;
            let side = if number(r, "side")? == 0.0 {
                &mut a
            } else {
                &mut b
            };
            side.extend(std::iter::repeat_n(v.to_owned(), n));
        }
        columns.push(drift::categorical(c.name, &a, &b));
    }
    Ok(Report {
        report_id: lakehouse_jobs::runid::new_run_id(),
        ts: OffsetDateTime::now_utc(),
        spec,
        catalog_version,
        columns,
    })
}

static ARROW_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("report_id", DataType::Utf8, false),
        Field::new("ts", ts, false),
        Field::new("day", DataType::Date32, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("sample_a", DataType::Utf8, false),
        Field::new("sample_b", DataType::Utf8, false),
        Field::new("filter", DataType::Utf8, true),
        Field::new("catalog_version", DataType::Int64, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("n_a", DataType::Int64, false),
        Field::new("n_b", DataType::Int64, false),
        Field::new("psi", DataType::Float64, true),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("buckets", DataType::Utf8, false),
    ]))
});

fn to_batch(r: &Report) -> Result<RecordBatch, String> {
    let n = r.columns.len();
    let text = |v: &str| {
        let mut b = StringBuilder::new();
        (0..n).for_each(|_| b.append_value(v));
        Arc::new(b.finish()) as ArrayRef
    };
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut day = Date32Builder::new();
    let mut version = Int64Builder::new();
    let mut filter = StringBuilder::new();
    let (mut column, mut kind, mut verdict, mut buckets) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut n_a, mut n_b, mut psi) = (
        Int64Builder::new(),
        Int64Builder::new(),
        Float64Builder::new(),
    );
    for c in &r.columns {
        ts.append_value((r.ts.unix_timestamp_nanos() / 1000) as i64);
        day.append_value(lakehouse_jobs::output::date32(r.ts.date()));
        version.append_value(r.catalog_version as i64);
        filter.append_option(r.spec.filter.as_deref());
        column.append_value(&c.column);
        kind.append_value(c.kind);
        n_a.append_value(c.n_a as i64);
        n_b.append_value(c.n_b as i64);
        psi.append_option(c.psi);
        verdict.append_value(c.verdict);
        buckets.append_value(serde_json::to_string(&c.buckets).map_err(|e| e.to_string())?);
    }
    let arrays: Vec<ArrayRef> = vec![
        text(&r.report_id),
        Arc::new(ts.finish()),
        Arc::new(day.finish()),
        text(r.spec.source),
        text(&r.spec.a),
        text(&r.spec.b),
        Arc::new(filter.finish()),
        Arc::new(version.finish()),
        Arc::new(column.finish()),
        Arc::new(kind.finish()),
        Arc::new(n_a.finish()),
        Arc::new(n_b.finish()),
        Arc::new(psi.finish()),
        Arc::new(verdict.finish()),
        Arc::new(buckets.finish()),
    ];
    RecordBatch::try_new(ARROW_SCHEMA.clone(), arrays).map_err(|e| e.to_string())
}

/// Appends the report to `drift_reports` (one row per column); the dataset version.
pub async fn store(ctx: &JobContext, r: &Report) -> Result<u64, String> {
    let key = format!(
        "{DATASET}/day={}/{}.parquet",
        lakehouse_jobs::output::day_partition(r.ts.date()),
        r.report_id
    );
    let dir = std::path::PathBuf::from(&ctx.config.replay.tmp_dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{}.parquet", r.report_id));
    let written = lakehouse_jobs::output::write_parquet(&path, &ARROW_SCHEMA, &[to_batch(r)?])
        .and_then(|_| std::fs::read(&path).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&path);
    let bytes = written?;
    let size = crate::run::put(ctx, &key, bytes).await?;
    let object = DataObject {
        key,
        size,
        row_count: r.columns.len() as u64,
    };
    let rid = ctx.rid();
    lakehouse_jobs::output::publish(
        &ctx.gateway.catalog,
        DATASET,
        &ARROW_SCHEMA,
        vec![object],
        &rid,
    )
    .await
    .map(|res| res.manifest.version)
    .map_err(|e| format!("appending to '{DATASET}': {e}"))
}

/// The report as a terminal table, worst first within its order.
pub fn print_table(r: &Report) {
    println!(
        "drift {} → {} ({}, catalog version {})",
        r.spec.a, r.spec.b, r.spec.source, r.catalog_version
    );
    println!(
        "{:<18} {:<12} {:>8} {:>8} {:>9}  verdict",
        "column", "kind", "n_a", "n_b", "psi"
    );
    for c in &r.columns {
        let psi = c.psi.map_or("-".to_owned(), |p| format!("{p:.4}"));
        println!(
            "{:<18} {:<12} {:>8} {:>8} {:>9}  {}",
            c.column, c.kind, c.n_a, c.n_b, psi, c.verdict
        );
        if c.verdict == "minor" || c.verdict == "major" {
            for b in &c.buckets {
                println!(
                    "    {:<28} {:>7.1}% → {:>5.1}%   {:+.4}",
                    b.label,
                    b.share_a * 100.0,
                    b.share_b * 100.0,
                    b.psi
                );
            }
        }
    }
}

/// Whether any column is at least `tier`.
pub fn reaches(r: &Report, tier: &str) -> bool {
    r.columns
        .iter()
        .any(|c| c.verdict == "major" || (tier == "minor" && c.verdict == "minor"))
}

/// Runs `replay drift`: 0 done, 1 the samples could not be read or the report not stored,
/// 2 bad arguments, 3 with `--fail-on`, a column reached that tier.
pub fn command(ctx: &JobContext, a: &DriftArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    let spec = match Spec::from_args(a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match lakehouse_jobs::runtime("replay") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let done = rt.block_on(async {
        let report = compare(ctx, spec).await?;
        let version = if a.no_store {
            None
        } else {
            Some(store(ctx, &report).await?)
        };
        Ok::<_, String>((report, version))
    });
    let (report, version) = match done {
        Ok(r) => r,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::from(1);
        }
    };
    if lakehouse_jobs::progress::human_stdout() && !a.json {
        print_table(&report);
        if let Some(v) = version {
            println!(
                "stored as report {} in {DATASET} (version {v})",
                report.report_id
            );
        }
    } else {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["dataset_version"] = version.into();
        println!("{v}");
    }
    match &a.fail_on {
        Some(tier) if reaches(&report, tier) => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    }
}
