use serde_json::json;

use super::*;
use crate::transforms::fixture;

#[test]
fn fixtures_give_one_record_per_genai_span() {
    let all = fixture::drafts("otel_genai");
    // Line 1: a chat span (events of the 1.2x conventions) and a plain HTTP span.
    assert_eq!(all[0].len(), 1);
    let d = &all[0][0];
    assert_eq!(
        d.model.as_deref(),
        Some("gpt-4o-2024-08-06"),
        "the model that answered"
    );
    assert_eq!((d.prompt_tokens, d.completion_tokens), (Some(97), Some(52)));
    assert!(
        d.prompt.contains("user: What is the capital of France?"),
        "{}",
        d.prompt
    );
    assert_eq!(d.response, "The capital of France is Paris.");
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
    assert_eq!(d.response, "101");
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

fn span(id: &str, parent: &str, op: &str, tokens: i64) -> Value {
    json!({"traceId": "5b8efff798038103d269b633813fc60c", "spanId": id, "parentSpanId": parent,
        "startTimeUnixNano": "1795511643000000000", "endTimeUnixNano": "1795511644000000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": op}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": tokens.to_string()}}]})
}

#[test]
fn a_span_that_sums_its_children_is_not_counted_again() {
    // agent (30) > loop (no model) > chat (10), chat (20); a tool span; a cycle elsewhere.
    let mut lp = span("00000000000000b0", "00000000000000a0", "x", 0);
    lp["attributes"] = json!([]);
    let line = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        span("00000000000000a0", "", "invoke_agent", 30),
        lp,
        span("00000000000000c1", "00000000000000b0", "chat", 10),
        span("00000000000000c2", "00000000000000a0", "chat", 20),
        span("00000000000000d0", "00000000000000a0", "execute_tool", 0),
        span("00000000000000e1", "00000000000000e2", "chat", 5),
        span("00000000000000e2", "00000000000000e1", "chat", 6),
    ]}]}]});
    let drafts = OtelGenAi.apply(&line).unwrap();
    let tokens: Vec<_> = drafts.iter().map(|d| d.prompt_tokens.unwrap()).collect();
    // The two chats count; the agent does not; the cycle ends (each has the other below).
    assert_eq!(tokens, vec![10, 20]);
    // Alone on its line, an agent span is the only record of its calls: it is kept.
    let alone = json!({"resourceSpans": [{"scopeSpans": [{"spans": [span("00000000000000a0", "", "invoke_agent", 30)]}]}]});
    assert_eq!(OtelGenAi.apply(&alone).unwrap()[0].prompt_tokens, Some(30));
}
