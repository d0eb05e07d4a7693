//! The transform registry: one module per record kind, each turning one parsed log line into
//! drafts of evidence rows (most kinds give one; an OTLP line may hold many spans).
//!
//! A transform only reads the record's shape; [`crate::normalize`] then applies what every
//! kind shares (timestamps to UTC, whitespace, redaction, token estimates).

pub mod anthropic_messages;
pub mod openai_chat;
pub mod otel_genai;
pub mod replay_run;
pub mod scored_run;
pub mod sse;
pub mod tool_call;
pub mod validation;

mod util;

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A row before normalisation.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The source record the id is computed from when it is part of the line (one span of
    /// an OTLP batch); `None`: the whole line.
    pub source: Option<Value>,
    /// The source's run, trace or request id.
    pub run_id: Option<String>,
    /// When it happened.
    pub ts: Option<OffsetDateTime>,
    /// Model.
    pub model: Option<String>,
    /// Task.
    pub task: Option<String>,
    /// Prompt text.
    pub prompt: String,
    /// Response text.
    pub response: String,
    /// Reported prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Reported completion tokens.
    pub completion_tokens: Option<i64>,
    /// Latency.
    pub latency_ms: Option<i64>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Score.
    pub score: Option<f64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Everything else worth keeping.
    pub metadata: Map<String, Value>,
}

/// Why a line was not materialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// A short snake_case reason, counted per kind in the receipt.
    pub reason: &'static str,
    /// The specifics.
    pub detail: String,
}

impl Reject {
    /// A rejection.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// One record kind's transform.
pub trait Transform: Sync {
    /// The kind's name, as in `raw/<kind>/`.
    fn kind(&self) -> &'static str;
    /// The drafts in one parsed line.
    fn apply(&self, line: &Value) -> Result<Vec<Draft>, Reject>;
}

/// Every registered transform.
pub static REGISTRY: &[&dyn Transform] = &[
    &openai_chat::OpenAiChat,
    &anthropic_messages::AnthropicMessages,
    &otel_genai::OtelGenAi,
    &tool_call::ToolCall,
    &validation::Validation,
    &scored_run::ScoredRun,
    &replay_run::ReplayRun,
];

/// The transform for `kind`.
pub fn lookup(kind: &str) -> Option<&'static dyn Transform> {
    REGISTRY.iter().copied().find(|t| t.kind() == kind)
}

/// Every kind's name.
pub fn kinds() -> Vec<&'static str> {
    REGISTRY.iter().map(|t| t.kind()).collect()
}

#[cfg(test)]
pub(crate) mod fixture {
    use serde_json::Value;

    use super::{Draft, lookup};

    /// Every line of `fixtures/<kind>.jsonl`, transformed.
    pub(crate) fn drafts(kind: &str) -> Vec<Vec<Draft>> {
        let path = format!("{}/fixtures/{kind}.jsonl", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let t = lookup(kind).unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                let v: Value = serde_json::from_str(l).unwrap();
                t.apply(&v)
                    .unwrap_or_else(|e| panic!("{path}:{}: {e:?}", i + 1))
            })
            .collect()
    }
}
