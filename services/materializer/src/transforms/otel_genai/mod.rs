//! `otel_genai`: OpenTelemetry spans (`{"resourceSpans":[…]}` per line, or one bare span per
//! line) of LLM calls. Each span that is an LLM call becomes one record:
//! - GenAI semantic-convention spans (a model or usage in `gen_ai.*` attributes): the
//!   conversation from events (`gen_ai.content.prompt` / `completion`, per-message
//!   `gen_ai.user.message` … `gen_ai.choice`), from `gen_ai.system_instructions` +
//!   `gen_ai.input.messages` / `gen_ai.output.messages`, or from indexed
//!   `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` attributes ([`content`] reads them all);
//! - OpenInference spans (`openinference.span.kind = LLM`, `llm.*`, `input.value`), which
//!   carry no `gen_ai.*` at all ([`openinference`]).
//!
//! Tool spans, agent and workflow spans that only aggregate their children (an
//! `invoke_agent` span repeats the summed usage of its `chat` spans) are not calls: a
//! candidate with a candidate descendant on the same line is skipped, so no token is counted
//! twice. Values may be OTLP/JSON, the protobuf JSON mapping, or protobufjs objects ([`otlp`]).

pub mod content;
mod openinference;
mod otlp;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use self::content::{Message, indexed, messages, render};
use self::otlp::{attributes, failed, id, int64};
use super::util::{put, text_of};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct OtelGenAi;

/// One span of a line, with what is read from it once.
struct Span<'a> {
    raw: &'a Value,
    resource: &'a Map<String, Value>,
    attrs: Map<String, Value>,
    id: Option<String>,
    parent: Option<String>,
}

impl Span<'_> {
    fn attr(&self, k: &str) -> Option<&Value> {
        self.attrs.get(k).filter(|v| !v.is_null())
    }

    fn text(&self, k: &str) -> Option<String> {
        self.attr(k).map(text_of).filter(|s| !s.is_empty())
    }

    fn int(&self, k: &str) -> Option<i64> {
        self.attr(k).and_then(int64)
    }

    /// Whether the span records a model call (and not a tool run).
    fn is_call(&self) -> bool {
        if openinference::is_llm(&self.attrs) {
            return true;
        }
        let op = self.text("gen_ai.operation.name");
        if matches!(op.as_deref(), Some("execute_tool")) {
            return false;
        }
        ["gen_ai.request.model", "gen_ai.response.model"]
            .iter()
            .any(|k| self.attr(k).is_some())
            || self.attrs.keys().any(|k| k.starts_with("gen_ai.usage."))
    }
}

/// The conversation of a GenAI span: prompt messages, then the choices.
fn conversation(span: &Span<'_>) -> (Vec<Message>, Vec<Message>) {
    let mut prompt = Vec::new();
    let mut choices = Vec::new();
    let events = span.raw.get("events").and_then(Value::as_array);
    for e in events.into_iter().flatten() {
        let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
        let ea = attributes(e.get("attributes"));
        let body = e.get("body").map(otlp::any_value);
        let payload = ea
            .get("content")
            .or_else(|| ea.get("message"))
            .or(body.as_ref());
        match name {
            "gen_ai.content.prompt" => {
                prompt.extend(
                    ea.get("gen_ai.prompt")
                        .map(|p| messages(p, None))
                        .unwrap_or_default(),
                );
            }
            "gen_ai.content.completion" => choices.extend(
                ea.get("gen_ai.completion")
                    .map(|c| messages(c, Some("assistant")))
                    .unwrap_or_default(),
            ),
            "gen_ai.system.message"
            | "gen_ai.user.message"
            | "gen_ai.assistant.message"
            | "gen_ai.tool.message" => {
                let from_name = name
                    .trim_start_matches("gen_ai.")
                    .trim_end_matches(".message");
                let role = ea.get("role").and_then(Value::as_str).unwrap_or(from_name);
                prompt.extend(payload.map(|p| messages(p, Some(role))).unwrap_or_default());
            }
            "gen_ai.choice" => {
                let mut got = payload
                    .map(|p| messages(p, Some("assistant")))
                    .unwrap_or_default();
                if let Some(first) = got.first_mut()
                    && first.finish_reason.is_none()
                {
                    first.finish_reason = ea.get("finish_reason").map(text_of);
                }
                choices.extend(got);
            }
            _ => {}
        }
    }
    if prompt.is_empty() {
        prompt = match span.attr("gen_ai.input.messages") {
            Some(m) => messages(m, Some("user")),
            None => indexed(&span.attrs, "gen_ai.prompt", ""),
        };
    }
    if let Some(system) = span.attr("gen_ai.system_instructions")
        && !prompt.iter().any(|m| m.role.as_deref() == Some("system"))
    {
        let mut head: Vec<Message> = messages(system, Some("system"));
        for m in &mut head {
            m.role = Some("system".into());
        }
        head.append(&mut prompt);
        prompt = head;
    }
    if choices.is_empty() {
        choices = match span.attr("gen_ai.output.messages") {
            Some(m) => messages(m, Some("assistant")),
            None => indexed(&span.attrs, "gen_ai.completion", ""),
        };
    }
    (prompt, choices)
}

/// The first finish reason: an array, a JSON-encoded array (Spring AI), or one string.
fn finish_reason(v: &Value) -> Option<String> {
    match v {
        Value::Array(a) => a.first().map(text_of),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a.first().map(text_of),
            _ => Some(s.clone()),
        },
        other => Some(text_of(other)),
    }
    .filter(|s| !s.is_empty())
}

fn draft(span: &Span<'_>) -> Draft {
    let mut d = if openinference::is_llm(&span.attrs) {
        openinference::draft(&span.attrs)
    } else {
        genai_draft(span)
    };
    let start = span.raw.get("startTimeUnixNano").and_then(otlp::time);
    let end = span.raw.get("endTimeUnixNano").and_then(otlp::time);
    d.latency_ms = match (start, end) {
        (Some(a), Some(b)) if b >= a => i64::try_from((b - a).whole_milliseconds()).ok(),
        _ => None,
    };
    d.ts = start;
    d.source = Some(span.raw.clone());
    d.run_id = span.raw.get("traceId").and_then(id);
    let failed = failed(span.raw);
    if failed {
        d.outcome = Some("error".into());
    }
    let m = &mut d.metadata;
    put(m, "span_id", span.id.clone().map(Value::from));
    put(m, "parent_span_id", span.parent.clone().map(Value::from));
    put(m, "span_name", span.raw.get("name").cloned());
    put(m, "service", span.resource.get("service.name").cloned());
    if failed {
        let message = span.raw.get("status").and_then(|st| st.get("message"));
        put(m, "error", message.cloned());
    }
    d
}

fn genai_draft(span: &Span<'_>) -> Draft {
    let (prompt, choices) = conversation(span);
    let first = choices.into_iter().next();
    let finish = span
        .attr("gen_ai.response.finish_reasons")
        .and_then(finish_reason)
        .or_else(|| first.as_ref().and_then(|c| c.finish_reason.clone()));
    let mut metadata = Map::new();
    let op = span.text("gen_ai.operation.name");
    put(&mut metadata, "operation", op.clone().map(Value::from));
    put(
        &mut metadata,
        "system",
        span.text("gen_ai.provider.name")
            .or_else(|| span.text("gen_ai.system"))
            .map(Value::from),
    );
    put(
        &mut metadata,
        "response_id",
        span.text("gen_ai.response.id").map(Value::from),
    );
    put(
        &mut metadata,
        "finish_reason",
        finish.clone().map(Value::from),
    );
    for (key, attr) in [
        (
            "cache_read_input_tokens",
            "gen_ai.usage.cache_read.input_tokens",
        ),
        (
            "cache_creation_input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
        ),
    ] {
        put(&mut metadata, key, span.int(attr).map(Value::from));
    }
    Draft {
        model: span
            .text("gen_ai.response.model")
            .or_else(|| span.text("gen_ai.request.model")),
        task: span
            .text("gen_ai.agent.name")
            .or_else(|| span.text("gen_ai.conversation.id")),
        prompt: render(&prompt),
        response: first.map(|c| c.text).unwrap_or_default(),
        prompt_tokens: span
            .int("gen_ai.usage.input_tokens")
            .or_else(|| span.int("gen_ai.usage.prompt_tokens")),
        completion_tokens: span
            .int("gen_ai.usage.output_tokens")
            .or_else(|| span.int("gen_ai.usage.completion_tokens")),
        outcome: finish,
        tags: op
            .map(|op| vec![format!("operation:{op}")])
            .unwrap_or_default(),
        metadata,
        ..Draft::default()
    }
}

/// Every span of a line, with its resource's attributes.
/// A span and its resource's attributes.
type WithResource<'a> = (&'a Value, Map<String, Value>);

fn spans(v: &Value) -> Result<Vec<WithResource<'_>>, Reject> {
    let Some(rs) = v.get("resourceSpans") else {
        if v.get("spanId").is_some() || v.get("traceId").is_some() {
            return Ok(vec![(v, Map::new())]);
        }
        return Err(Reject::new("bad_otlp", "neither resourceSpans nor a span"));
    };
    let Some(rs) = rs.as_array() else {
        return Err(Reject::new("bad_otlp", "resourceSpans is not an array"));
    };
    let mut out = Vec::new();
    for r in rs {
        let resource = attributes(r.get("resource").and_then(|x| x.get("attributes")));
        let scopes = r
            .get("scopeSpans")
            .or_else(|| r.get("instrumentationLibrarySpans"));
        for ss in scopes.and_then(Value::as_array).into_iter().flatten() {
            let list = ss.get("spans").and_then(Value::as_array);
            out.extend(list.into_iter().flatten().map(|s| (s, resource.clone())));
        }
    }
    Ok(out)
}

/// Indexes of the calls whose spans have another call below them: aggregates.
fn aggregates(all: &[Span<'_>], calls: &[usize]) -> HashSet<usize> {
    let parent: HashMap<&str, &str> = all
        .iter()
        .filter_map(|s| Some((s.id.as_deref()?, s.parent.as_deref()?)))
        .collect();
    let call_at: HashMap<&str, usize> = calls
        .iter()
        .filter_map(|&i| Some((all[i].id.as_deref()?, i)))
        .collect();
    let mut out = HashSet::new();
    for &i in calls {
        let mut cur = all[i].parent.as_deref();
        // Bounded: a malformed line may hold a parent cycle.
        for _ in 0..all.len() {
            let Some(p) = cur else { break };
            if let Some(&j) = call_at.get(p) {
                out.insert(j);
            }
            cur = parent.get(p).copied();
        }
    }
    out
}

impl Transform for OtelGenAi {
    fn kind(&self) -> &'static str {
        "otel_genai"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        let raw = spans(v)?;
        let all: Vec<Span<'_>> = raw
            .iter()
            .map(|(s, resource)| Span {
                raw: s,
                resource,
                attrs: attributes(s.get("attributes")),
                id: s.get("spanId").and_then(id),
                parent: s.get("parentSpanId").and_then(id),
            })
            .collect();
        let calls: Vec<usize> = (0..all.len()).filter(|&i| all[i].is_call()).collect();
        let skip = aggregates(&all, &calls);
        let out: Vec<Draft> = calls
            .iter()
            .filter(|i| !skip.contains(*i))
            .map(|&i| draft(&all[i]))
            .collect();
        if out.is_empty() {
            return Err(Reject::new(
                "no_genai_span",
                format!("{} span(s), none an LLM call", all.len()),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
