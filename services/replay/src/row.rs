//! `replay_run.v1`: one row per task of a replay run (every field is documented in
//! docs/evidence.md), written to the `replay_runs` dataset and, as JSON lines, to
//! `raw/replay_run/` so the materializer can read runs back as evidence.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde::Serialize;
use time::OffsetDateTime;

/// The schema name.
pub const SCHEMA: &str = "replay_run.v1";

/// The dataset.
pub const DATASET: &str = "replay_runs";

/// One task's replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayRow {
    /// `replay_run.v1`.
    pub schema: &'static str,
    /// The replay run (shared by its tasks).
    pub run_id: String,
    /// The task.
    pub task_id: String,
    /// When the task started, UTC.
    #[serde(serialize_with = "rfc3339")]
    pub ts: OffsetDateTime,
    /// The task text.
    pub prompt: String,
    /// The system prompt used.
    pub system_prompt: String,
    /// Model asked (or reported by the server).
    pub model: Option<String>,
    /// The answer (empty when the chat failed).
    pub response: String,
    /// Reported prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Reported completion tokens.
    pub completion_tokens: Option<i64>,
    /// Reported total.
    pub total_tokens: Option<i64>,
    /// Estimated tokens of the bundled prompt.
    pub bundle_tokens: i64,
    /// Whole task, start to validated.
    pub latency_ms: i64,
    /// Embedding the query.
    pub embed_ms: i64,
    /// Searching the index.
    pub search_ms: i64,
    /// Fetching evidence text.
    pub fetch_ms: i64,
    /// Bundling.
    pub bundle_ms: i64,
    /// The chat call, retries included.
    pub chat_ms: i64,
    /// Validating.
    pub validate_ms: i64,
    /// Chat tries.
    pub attempts: i64,
    /// Ids the index returned, nearest first.
    pub retrieved_ids: Vec<String>,
    /// Their distances.
    pub retrieved_distances: Vec<f64>,
    /// Ids that made it into the prompt (playbook examples as `<index>/<entry>`).
    pub bundled_ids: Vec<String>,
    /// The playbook entries bundled as worked examples (JSON lines and answers only: the
    /// Parquet schema of `replay_run.v1` is unchanged, `bundled_ids` holds them there too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub playbook_ids: Vec<String>,
    /// The playbook entry this passing answer was recorded as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playbook_entry: Option<String>,
    /// `evidence` manifest version read.
    pub dataset_version: Option<i64>,
    /// Index searched.
    pub index_name: String,
    /// Its version when searched.
    pub index_version: Option<i64>,
    /// The catalog version the evidence was read at (with `--as-of`, the one asked for).
    pub catalog_version: Option<i64>,
    /// `pass`, `fail` or `error`.
    pub verdict: String,
    /// Why it failed.
    pub failures: Vec<String>,
    /// The chat error, for `error`.
    pub error: Option<String>,
}

pub(crate) fn rfc3339<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = t
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// The Arrow schema.
pub static ARROW_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    let i64n = |n: &str| Field::new(n, DataType::Int64, true);
    let i64r = |n: &str| Field::new(n, DataType::Int64, false);
    let s = |n: &str, null| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        s("schema", false),
        s("run_id", false),
        s("task_id", false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("day", DataType::Date32, false),
        s("prompt", false),
        s("system_prompt", false),
        s("model", true),
        s("response", false),
        i64n("prompt_tokens"),
        i64n("completion_tokens"),
        i64n("total_tokens"),
        i64r("bundle_tokens"),
        i64r("latency_ms"),
        i64r("embed_ms"),
        i64r("search_ms"),
        i64r("fetch_ms"),
        i64r("bundle_ms"),
        i64r("chat_ms"),
        i64r("validate_ms"),
        i64r("attempts"),
        Field::new("retrieved_ids", list_of(DataType::Utf8), false),
        Field::new("retrieved_distances", list_of(DataType::Float64), false),
        Field::new("bundled_ids", list_of(DataType::Utf8), false),
        i64n("dataset_version"),
        s("index_name", false),
        i64n("index_version"),
        i64n("catalog_version"),
        s("verdict", false),
        Field::new("failures", list_of(DataType::Utf8), false),
        s("error", true),
    ]))
});

fn strings<'a>(rows: &[&'a ReplayRow], f: impl Fn(&'a ReplayRow) -> Option<&'a str>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for r in rows {
        b.append_option(f(r));
    }
    Arc::new(b.finish())
}

fn ints(rows: &[&ReplayRow], f: impl Fn(&ReplayRow) -> Option<i64>) -> ArrayRef {
    let mut b = Int64Builder::with_capacity(rows.len());
    for r in rows {
        b.append_option(f(r));
    }
    Arc::new(b.finish())
}

fn string_lists<'a>(rows: &[&'a ReplayRow], f: impl Fn(&'a ReplayRow) -> &'a [String]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for x in f(r) {
            b.values().append_value(x);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// Rows as one Arrow batch.
pub fn to_batch(rows: &[&ReplayRow]) -> Result<RecordBatch, String> {
    let mut ts = TimestampMicrosecondBuilder::with_capacity(rows.len());
    let mut day = Date32Builder::with_capacity(rows.len());
    let mut dists = ListBuilder::new(Float64Builder::new());
    for r in rows {
        let micros =
            i64::try_from(r.ts.unix_timestamp_nanos() / 1000).map_err(|e| e.to_string())?;
        ts.append_value(micros);
        day.append_value(lakehouse_jobs::output::date32(r.ts.date()));
        for d in &r.retrieved_distances {
            dists.values().append_value(*d);
        }
        dists.append(true);
    }
    let cols: Vec<ArrayRef> = vec![
        strings(rows, |r| Some(r.schema)),
        strings(rows, |r| Some(&r.run_id)),
        strings(rows, |r| Some(&r.task_id)),
        Arc::new(ts.finish()),
        Arc::new(day.finish()),
        strings(rows, |r| Some(&r.prompt)),
        strings(rows, |r| Some(&r.system_prompt)),
        strings(rows, |r| r.model.as_deref()),
        strings(rows, |r| Some(&r.response)),
        ints(rows, |r| r.prompt_tokens),
        ints(rows, |r| r.completion_tokens),
        ints(rows, |r| r.total_tokens),
        ints(rows, |r| Some(r.bundle_tokens)),
        ints(rows, |r| Some(r.latency_ms)),
        ints(rows, |r| Some(r.embed_ms)),
        ints(rows, |r| Some(r.search_ms)),
        ints(rows, |r| Some(r.fetch_ms)),
        ints(rows, |r| Some(r.bundle_ms)),
        ints(rows, |r| Some(r.chat_ms)),
        ints(rows, |r| Some(r.validate_ms)),
        ints(rows, |r| Some(r.attempts)),
        string_lists(rows, |r| &r.retrieved_ids),
        Arc::new(dists.finish()),
        string_lists(rows, |r| &r.bundled_ids),
        ints(rows, |r| r.dataset_version),
        strings(rows, |r| Some(&r.index_name)),
        ints(rows, |r| r.index_version),
        ints(rows, |r| r.catalog_version),
        strings(rows, |r| Some(&r.verdict)),
        string_lists(rows, |r| &r.failures),
        strings(rows, |r| r.error.as_deref()),
    ];
    RecordBatch::try_new(ARROW_SCHEMA.clone(), cols).map_err(|e| e.to_string())
}
