//! `evidence_record.v1`: one row of the `evidence` dataset (every field is documented in
//! docs/evidence.md), and its Arrow form.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use time::{Date, OffsetDateTime};

/// The schema name every row carries.
pub const SCHEMA: &str = "evidence_record.v1";

/// The dataset the rows are appended to.
pub const DATASET: &str = "evidence";

/// One evidence record.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// 32 hex digits: a hash of the kind and the canonical source record.
    pub evidence_id: String,
    /// Record kind (the transform that made it).
    pub kind: String,
    /// Storage key (or local path) of the raw file.
    pub source_key: String,
    /// 1-based line in that file.
    pub source_line: i64,
    /// The source's own run, trace or request id.
    pub run_id: Option<String>,
    /// When the logged event happened, UTC.
    pub ts: OffsetDateTime,
    /// Model name.
    pub model: Option<String>,
    /// Task name or id.
    pub task: Option<String>,
    /// Prompt text, normalised and redacted.
    pub prompt: String,
    /// Response text, normalised and redacted.
    pub response: String,
    /// Prompt tokens, reported or estimated.
    pub prompt_tokens: i64,
    /// Completion tokens, reported or estimated.
    pub completion_tokens: i64,
    /// Whether either count was estimated.
    pub tokens_estimated: bool,
    /// Latency in milliseconds.
    pub latency_ms: Option<i64>,
    /// Outcome (finish reason, `error`, `pass`, `fail` …).
    pub outcome: Option<String>,
    /// Score, when the source has one.
    pub score: Option<f64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Everything else worth keeping, as a JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// SSN-shaped strings replaced in this record.
    pub redactions: i64,
    /// The materializer run that wrote the row.
    pub materializer_run: String,
}

impl Evidence {
    /// The day partition.
    pub fn day(&self) -> Date {
        self.ts.date()
    }

    /// Bytes of text held, for bounding buffers.
    pub fn weight(&self) -> usize {
        self.prompt.len() + self.response.len() + 256
    }

    /// The text embedded for vector search: task, prompt and response, capped at
    /// `EMBED_CHARS` characters (embedding models read a few hundred tokens at most).
    pub fn embed_text(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.task {
            s.push_str(t);
            s.push('\n');
        }
        s.push_str(&self.prompt);
        s.push('\n');
        s.push_str(&self.response);
        match s.char_indices().nth(EMBED_CHARS) {
            Some((cut, _)) => s[..cut].to_owned(),
            None => s,
        }
    }
}

/// Characters of a record embedded at most.
pub const EMBED_CHARS: usize = 2000;

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// The Arrow schema of `evidence_record.v1`.
pub static ARROW_SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    Arc::new(Schema::new(vec![
        Field::new("evidence_id", DataType::Utf8, false),
        Field::new("schema", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("source_key", DataType::Utf8, false),
        Field::new("source_line", DataType::Int64, false),
        Field::new("run_id", DataType::Utf8, true),
        Field::new("ts", ts, false),
        Field::new("day", DataType::Date32, false),
        Field::new("model", DataType::Utf8, true),
        Field::new("task", DataType::Utf8, true),
        Field::new("prompt", DataType::Utf8, false),
        Field::new("response", DataType::Utf8, false),
        Field::new("prompt_tokens", DataType::Int64, false),
        Field::new("completion_tokens", DataType::Int64, false),
        Field::new("tokens_estimated", DataType::Boolean, false),
        Field::new("latency_ms", DataType::Int64, true),
        Field::new("outcome", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("tags", list_of(DataType::Utf8), false),
        Field::new("metadata", DataType::Utf8, false),
        Field::new("redactions", DataType::Int64, false),
        Field::new("materializer_run", DataType::Utf8, false),
    ]))
});

/// Rows as one Arrow batch.
pub fn to_batch(rows: &[Evidence]) -> Result<RecordBatch, String> {
    let n = rows.len();
    let mut id = StringBuilder::with_capacity(n, n * 32);
    let mut schema = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut source_key = StringBuilder::new();
    let mut source_line = Int64Builder::with_capacity(n);
    let mut run_id = StringBuilder::new();
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n);
    let mut day = Date32Builder::with_capacity(n);
    let mut model = StringBuilder::new();
    let mut task = StringBuilder::new();
    let mut prompt = StringBuilder::new();
    let mut response = StringBuilder::new();
    let mut pt = Int64Builder::with_capacity(n);
    let mut ct = Int64Builder::with_capacity(n);
    let mut est = BooleanBuilder::with_capacity(n);
    let mut latency = Int64Builder::with_capacity(n);
    let mut outcome = StringBuilder::new();
    let mut score = Float64Builder::with_capacity(n);
    let mut tags = ListBuilder::new(StringBuilder::new());
    let mut metadata = StringBuilder::new();
    let mut redactions = Int64Builder::with_capacity(n);
    let mut mrun = StringBuilder::new();
    for r in rows {
        id.append_value(&r.evidence_id);
        schema.append_value(SCHEMA);
        kind.append_value(&r.kind);
        source_key.append_value(&r.source_key);
        source_line.append_value(r.source_line);
        run_id.append_option(r.run_id.as_deref());
        let micros = r.ts.unix_timestamp_nanos() / 1000;
        ts.append_value(i64::try_from(micros).map_err(|e| e.to_string())?);
        day.append_value(lakehouse_jobs::output::date32(r.day()));
        model.append_option(r.model.as_deref());
        task.append_option(r.task.as_deref());
        prompt.append_value(&r.prompt);
        response.append_value(&r.response);
        pt.append_value(r.prompt_tokens);
        ct.append_value(r.completion_tokens);
        est.append_value(r.tokens_estimated);
        latency.append_option(r.latency_ms);
        outcome.append_option(r.outcome.as_deref());
        score.append_option(r.score);
        for t in &r.tags {
            tags.values().append_value(t);
        }
        tags.append(true);
        metadata.append_value(serde_json::Value::Object(r.metadata.clone()).to_string());
        redactions.append_value(r.redactions);
        mrun.append_value(&r.materializer_run);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(schema.finish()),
        Arc::new(kind.finish()),
        Arc::new(source_key.finish()),
        Arc::new(source_line.finish()),
        Arc::new(run_id.finish()),
        Arc::new(ts.finish()),
        Arc::new(day.finish()),
        Arc::new(model.finish()),
        Arc::new(task.finish()),
        Arc::new(prompt.finish()),
        Arc::new(response.finish()),
        Arc::new(pt.finish()),
        Arc::new(ct.finish()),
        Arc::new(est.finish()),
        Arc::new(latency.finish()),
        Arc::new(outcome.finish()),
        Arc::new(score.finish()),
        Arc::new(tags.finish()),
        Arc::new(metadata.finish()),
        Arc::new(redactions.finish()),
        Arc::new(mrun.finish()),
    ];
    RecordBatch::try_new(ARROW_SCHEMA.clone(), cols).map_err(|e| e.to_string())
}
