//! OpenInference LLM spans (Arize Phoenix and the exporters that follow its conventions):
//! `openinference.span.kind = LLM`, the model in `llm.model_name`, messages in
//! `llm.input_messages.N.message.*` / `llm.output_messages.N.message.*`, the raw request and
//! response in `input.value` / `output.value`, usage in `llm.token_count.*`.

use serde_json::{Map, Value};

use super::content::{indexed, messages, render};
use super::otlp::int64;
use crate::transforms::Draft;
use crate::transforms::util::{put, text_of};

/// Whether the attributes describe an OpenInference LLM span.
pub(super) fn is_llm(attrs: &Map<String, Value>) -> bool {
    attrs
        .get("openinference.span.kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.eq_ignore_ascii_case("llm"))
}

/// `input.value` / `output.value` parsed when their mime type (or their text) says JSON.
fn json_value(attrs: &Map<String, Value>, key: &str) -> Option<Value> {
    let raw = attrs.get(key)?;
    match raw {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object),
        Value::Object(_) => Some(raw.clone()),
        _ => None,
    }
}

/// The draft of an OpenInference LLM span (times and ids are the caller's).
pub(super) fn draft(attrs: &Map<String, Value>) -> Draft {
    let input = json_value(attrs, "input.value");
    let output = json_value(attrs, "output.value");
    let mut prompt = indexed(attrs, "llm.input_messages", ".message");
    if prompt.is_empty() {
        prompt = match input.as_ref().and_then(|i| i.get("messages")) {
            Some(m) => messages(m, Some("user")),
            None => attrs
                .get("input.value")
                .map(|v| messages(v, Some("user")))
                .unwrap_or_default(),
        };
    }
    let first_choice = output
        .as_ref()
        .and_then(|o| o.get("choices"))
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut response = indexed(attrs, "llm.output_messages", ".message")
        .into_iter()
        .next()
        .map(|m| m.text);
    if response.is_none() {
        response = match first_choice.and_then(|c| c.get("message")) {
            Some(m) => messages(m, None).into_iter().next().map(|m| m.text),
            None if output.is_none() => attrs.get("output.value").map(text_of),
            None => None,
        };
    }
    let finish = first_choice
        .and_then(|c| c.get("finish_reason"))
        .filter(|f| !f.is_null())
        .map(text_of);
    // The response names the exact model that answered.
    let model = output
        .as_ref()
        .and_then(|o| o.get("model"))
        .or_else(|| attrs.get("llm.model_name"))
        .map(text_of)
        .filter(|m| !m.is_empty());
    let count = |k: &str| attrs.get(k).and_then(int64);
    let mut metadata = Map::new();
    put(
        &mut metadata,
        "conventions",
        Some(Value::from("openinference")),
    );
    put(
        &mut metadata,
        "provider",
        attrs.get("llm.provider").cloned(),
    );
    put(
        &mut metadata,
        "session_id",
        attrs.get("session.id").cloned(),
    );
    put(&mut metadata, "user_id", attrs.get("user.id").cloned());
    put(
        &mut metadata,
        "response_id",
        output.as_ref().and_then(|o| o.get("id")).cloned(),
    );
    put(
        &mut metadata,
        "finish_reason",
        finish.clone().map(Value::from),
    );
    let tags = match attrs.get("tag.tags") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Draft {
        model,
        prompt: render(&prompt),
        response: response.unwrap_or_default(),
        prompt_tokens: count("llm.token_count.prompt"),
        completion_tokens: count("llm.token_count.completion"),
        outcome: finish,
        tags,
        metadata,
        ..Draft::default()
    }
}
