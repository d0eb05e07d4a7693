//! `otel_genai`: OpenTelemetry spans in OTLP/JSON (`{"resourceSpans":[{"resource",
//! "scopeSpans":[{"spans":[…]}]}]}` per line, or one bare span per line) that follow the
//! GenAI semantic conventions. Each span with `gen_ai.*` attributes becomes one record:
//! `gen_ai.request.model` / `gen_ai.response.model`, `gen_ai.usage.input_tokens` /
//! `output_tokens` (or the older `prompt_tokens` / `completion_tokens`), the prompt and
//! completion from events (`gen_ai.content.prompt` / `gen_ai.content.completion`, or the
//! per-message `gen_ai.user.message` … `gen_ai.choice` events), from
//! `gen_ai.input.messages` / `gen_ai.output.messages`, or from indexed
//! `gen_ai.prompt.N.content` attributes. Other spans on the line are ignored.

use serde_json::{Map, Value, json};

use super::openai_chat::{content_text, render_messages};
use super::util::{as_int, put, text_of};
use super::{Draft, Reject, Transform};
use crate::normalize::parse_ts;

/// The transform.
#[derive(Debug)]
pub struct OtelGenAi;

/// An OTLP `AnyValue` as plain JSON.
fn any_value(v: &Value) -> Value {
    let Some(m) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = m.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = m.get("intValue") {
        return as_int(i).map_or_else(|| i.clone(), Value::from);
    }
    if let Some(d) = m.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = m.get("boolValue") {
        return b.clone();
    }
    if let Some(a) = m.get("arrayValue") {
        let vals = a.get("values").and_then(Value::as_array);
        return Value::Array(vals.into_iter().flatten().map(any_value).collect());
    }
    if let Some(kv) = m.get("kvlistValue") {
        return Value::Object(attributes(kv.get("values")));
    }
    Value::Null
}

/// An OTLP attribute list (`[{key, value}]`) as a map.
fn attributes(list: Option<&Value>) -> Map<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let k = kv.get("key")?.as_str()?;
            Some((
                k.to_owned(),
                kv.get("value").map(any_value).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// Messages logged as a JSON string, a list, or plain text, rendered as `role: text` lines.
fn messages_text(v: &Value) -> String {
    let parsed;
    let v = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(p @ (Value::Array(_) | Value::Object(_))) => {
                parsed = p;
                &parsed
            }
            _ => return s.clone(),
        },
        other => other,
    };
    match v {
        Value::Array(items) => {
            // The newer conventions log `parts` instead of `content`.
            let normal: Vec<Value> = items
                .iter()
                .map(|m| match m.get("parts").and_then(Value::as_array) {
                    Some(parts) => json!({
                        "role": m.get("role").cloned().unwrap_or(json!("assistant")),
                        "content": parts.iter().map(|p| p.get("content").map(text_of).unwrap_or_else(|| text_of(p))).collect::<Vec<_>>().join("\n"),
                    }),
                    None => m.get("message").cloned().unwrap_or_else(|| m.clone()),
                })
                .collect();
            render_messages(&normal)
        }
        Value::Object(m) => m
            .get("content")
            .map(content_text)
            .unwrap_or_else(|| v.to_string()),
        other => text_of(other),
    }
}

fn indexed(attrs: &Map<String, Value>, prefix: &str) -> String {
    let mut out = Vec::new();
    for i in 0.. {
        let content = attrs.get(&format!("{prefix}.{i}.content"));
        let role = attrs.get(&format!("{prefix}.{i}.role"));
        if content.is_none() && role.is_none() {
            break;
        }
        out.push(format!(
            "{}: {}",
            role.map(text_of).unwrap_or_else(|| "assistant".into()),
            content.map(text_of).unwrap_or_default()
        ));
    }
    out.join("\n")
}

fn span_draft(span: &Value, resource: &Map<String, Value>) -> Option<Draft> {
    let attrs = attributes(span.get("attributes"));
    if !attrs.keys().any(|k| k.starts_with("gen_ai.")) {
        return None;
    }
    let s = |k: &str| attrs.get(k).filter(|v| !v.is_null()).map(text_of);
    let n = |k: &str| attrs.get(k).and_then(as_int);
    let mut prompt = Vec::new();
    let mut completion = Vec::new();
    for e in span
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
        let ea = attributes(e.get("attributes"));
        let body = e.get("body").map(any_value);
        let content = || {
            ea.get("content")
                .or_else(|| ea.get("message"))
                .or(body.as_ref())
                .map(messages_text)
                .unwrap_or_default()
        };
        match name {
            "gen_ai.content.prompt" => {
                prompt.push(
                    ea.get("gen_ai.prompt")
                        .map(messages_text)
                        .unwrap_or_default(),
                );
            }
            "gen_ai.content.completion" => {
                completion.push(
                    ea.get("gen_ai.completion")
                        .map(messages_text)
                        .unwrap_or_default(),
                );
            }
            "gen_ai.system.message"
            | "gen_ai.user.message"
            | "gen_ai.assistant.message"
            | "gen_ai.tool.message" => {
                let role = name
                    .trim_start_matches("gen_ai.")
                    .trim_end_matches(".message");
                prompt.push(format!("{role}: {}", content()));
            }
            "gen_ai.choice" => completion.push(content()),
            _ => {}
        }
    }
    if prompt.is_empty() {
        if let Some(m) = attrs.get("gen_ai.input.messages") {
            prompt.push(messages_text(m));
        } else {
            prompt.push(indexed(&attrs, "gen_ai.prompt"));
        }
    }
    if completion.is_empty() {
        if let Some(m) = attrs.get("gen_ai.output.messages") {
            completion.push(messages_text(m));
        } else {
            completion.push(indexed(&attrs, "gen_ai.completion"));
        }
    }
    let start = span.get("startTimeUnixNano").and_then(parse_ts);
    let end = span.get("endTimeUnixNano").and_then(parse_ts);
    let latency = match (start, end) {
        (Some(a), Some(b)) if b >= a => i64::try_from((b - a).whole_milliseconds()).ok(),
        _ => None,
    };
    let status = span.get("status").and_then(|st| st.get("code"));
    let failed = matches!(status, Some(Value::Number(c)) if c.as_i64() == Some(2))
        || status.and_then(Value::as_str) == Some("STATUS_CODE_ERROR");
    let finish = match attrs.get("gen_ai.response.finish_reasons") {
        Some(Value::Array(a)) => a.first().map(text_of),
        Some(other) => Some(text_of(other)),
        None => None,
    };
    let mut metadata = Map::new();
    put(&mut metadata, "span_id", span.get("spanId").cloned());
    put(
        &mut metadata,
        "parent_span_id",
        span.get("parentSpanId").cloned().filter(|p| p != ""),
    );
    put(&mut metadata, "span_name", span.get("name").cloned());
    put(
        &mut metadata,
        "operation",
        s("gen_ai.operation.name").map(Value::from),
    );
    put(
        &mut metadata,
        "system",
        s("gen_ai.system")
            .or_else(|| s("gen_ai.provider.name"))
            .map(Value::from),
    );
    put(
        &mut metadata,
        "response_id",
        s("gen_ai.response.id").map(Value::from),
    );
    put(
        &mut metadata,
        "finish_reason",
        finish.clone().map(Value::from),
    );
    put(
        &mut metadata,
        "service",
        resource.get("service.name").cloned(),
    );
    if failed {
        put(
            &mut metadata,
            "error",
            span.get("status").and_then(|st| st.get("message")).cloned(),
        );
    }
    let mut tags = Vec::new();
    if let Some(op) = s("gen_ai.operation.name") {
        tags.push(format!("operation:{op}"));
    }
    Some(Draft {
        source: Some(span.clone()),
        run_id: span
            .get("traceId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ts: start,
        model: s("gen_ai.request.model").or_else(|| s("gen_ai.response.model")),
        task: s("gen_ai.agent.name").or_else(|| s("gen_ai.conversation.id")),
        prompt: prompt.join("\n"),
        response: completion.join("\n"),
        prompt_tokens: n("gen_ai.usage.input_tokens").or_else(|| n("gen_ai.usage.prompt_tokens")),
        completion_tokens: n("gen_ai.usage.output_tokens")
            .or_else(|| n("gen_ai.usage.completion_tokens")),
        latency_ms: latency,
        outcome: Some(if failed {
            "error".into()
        } else {
            finish.unwrap_or_else(|| "ok".into())
        }),
        score: None,
        tags,
        metadata,
    })
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
        let mut out = Vec::new();
        let mut spans = 0;
        if let Some(rs) = v.get("resourceSpans") {
            let Some(rs) = rs.as_array() else {
                return Err(Reject::new("bad_otlp", "resourceSpans is not an array"));
            };
            for r in rs {
                let resource = attributes(r.get("resource").and_then(|x| x.get("attributes")));
                let scopes = r
                    .get("scopeSpans")
                    .or_else(|| r.get("instrumentationLibrarySpans"));
                for ss in scopes.and_then(Value::as_array).into_iter().flatten() {
                    for span in ss
                        .get("spans")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        spans += 1;
                        out.extend(span_draft(span, &resource));
                    }
                }
            }
        } else if v.get("spanId").is_some() || v.get("traceId").is_some() {
            spans = 1;
            out.extend(span_draft(v, &Map::new()));
        } else {
            return Err(Reject::new("bad_otlp", "neither resourceSpans nor a span"));
        }
        if out.is_empty() {
            return Err(Reject::new(
                "no_genai_span",
                format!("{spans} span(s), none with gen_ai.* attributes"),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::fixture;

    #[test]
    fn fixtures_give_one_record_per_genai_span() {
        let all = fixture::drafts("otel_genai");
        // Line 1: a chat span (events of the 1.2x conventions) and a plain HTTP span.
        assert_eq!(all[0].len(), 1);
        let d = &all[0][0];
        assert_eq!(d.model.as_deref(), Some("gpt-4o"));
        assert_eq!((d.prompt_tokens, d.completion_tokens), (Some(97), Some(52)));
        assert!(
            d.prompt.contains("user: What is the capital of France?"),
            "{}",
            d.prompt
        );
        assert!(d.response.contains("Paris"), "{}", d.response);
        assert_eq!(d.latency_ms, Some(1500));
        assert_eq!(
            d.run_id.as_deref(),
            Some("5b8efff798038103d269b633813fc60c")
        );
        assert_eq!(d.outcome.as_deref(), Some("stop"));
        assert_eq!(d.metadata["service"], json!("support-bot"));
        // Line 2: per-message events and a failed span.
        let d = &all[1][0];
        assert!(
            d.prompt.starts_with("system: Answer in one word."),
            "{}",
            d.prompt
        );
        assert_eq!(d.outcome.as_deref(), Some("error"));
        // Line 3: a bare span with indexed prompt attributes and the old token names.
        let d = &all[2][0];
        assert!(
            d.prompt.contains("user: Name a prime above 100"),
            "{}",
            d.prompt
        );
        assert_eq!(d.response, "assistant: 101");
        assert_eq!(d.prompt_tokens, Some(12));
        // Line 4: the newest conventions (input/output messages with parts).
        let d = &all[3][0];
        assert!(d.prompt.contains("user: Weather in Paris?"), "{}", d.prompt);
        assert!(d.response.contains("Rainy, 57"), "{}", d.response);
    }

    #[test]
    fn lines_without_genai_spans_are_rejected() {
        let line = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "a", "spanId": "b", "name": "GET /"}]}]}]});
        assert_eq!(OtelGenAi.apply(&line).unwrap_err().reason, "no_genai_span");
        assert_eq!(
            OtelGenAi.apply(&json!({"x": 1})).unwrap_err().reason,
            "bad_otlp"
        );
    }
}
