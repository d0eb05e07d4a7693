//! `anthropic_messages`: a Messages API call — the request (`model`, `system` as a string or
//! text blocks, `messages` whose `content` is a string or content blocks: `text`, `image`,
//! `tool_use`, `tool_result`, `thinking`) and the response (`id`, `content` blocks,
//! `stop_reason`, `usage` with `input_tokens`, `output_tokens` and the cache counts). An
//! error body (`{"type":"error","error":{…}}`) or an `error` field makes a failed call.

use serde_json::{Value, json};

use super::util::{at, first, latency, object, put, string, tags, text_of, timestamp};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct AnthropicMessages;

/// The text of Anthropic `content`: a string, or blocks.
pub fn blocks_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => Some(b.get("text").map(text_of).unwrap_or_default()),
                Some("tool_use" | "server_tool_use") => Some(format!(
                    "[tool use {}({})]",
                    b.get("name").map(text_of).unwrap_or_default(),
                    b.get("input").map(text_of).unwrap_or_default()
                )),
                Some("tool_result") => Some(format!(
                    "[tool result: {}]",
                    b.get("content").map(blocks_text).unwrap_or_default()
                )),
                Some("image") => Some("[image]".into()),
                Some("document") => Some("[document]".into()),
                // Reasoning is not part of the answer, and can be long.
                Some("thinking" | "redacted_thinking") => None,
                _ => Some(text_of(b)),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Transform for AnthropicMessages {
    fn kind(&self) -> &'static str {
        "anthropic_messages"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        let request = v.get("request").filter(|r| r.is_object()).unwrap_or(v);
        let response = v.get("response").filter(|r| r.is_object());
        let messages = request.get("messages").and_then(Value::as_array);
        if messages.is_none() && response.is_none() {
            return Err(Reject::new(
                "missing_messages",
                "neither request.messages nor a response is present",
            ));
        }
        let mut prompt = Vec::new();
        if let Some(s) = request.get("system") {
            prompt.push(format!("system: {}", blocks_text(s)));
        }
        for m in messages.into_iter().flatten() {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            prompt.push(format!(
                "{role}: {}",
                m.get("content").map(blocks_text).unwrap_or_default()
            ));
        }
        let is_error = response.is_some_and(|r| r.get("type") == Some(&json!("error")));
        let error = if is_error {
            response.and_then(|r| r.get("error")).cloned()
        } else {
            first(v, &["error"]).cloned()
        };
        let stop = response
            .and_then(|r| r.get("stop_reason"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut text = response
            .filter(|_| !is_error)
            .and_then(|r| r.get("content"))
            .map(blocks_text)
            .unwrap_or_default();
        let outcome = if let Some(e) = &error {
            if text.is_empty() {
                text = at(e, "message").map_or_else(|| text_of(e), text_of);
            }
            "error".to_owned()
        } else {
            stop.clone().unwrap_or_else(|| "ok".into())
        };
        let usage = response
            .and_then(|r| r.get("usage"))
            .or_else(|| v.get("usage"));
        let u = |k: &str| usage.and_then(|u| u.get(k)).and_then(super::util::as_int);
        let cached = u("cache_creation_input_tokens").unwrap_or(0)
            + u("cache_read_input_tokens").unwrap_or(0);
        let mut metadata = object(v, &["metadata"]);
        put(
            &mut metadata,
            "response_id",
            response.and_then(|r| r.get("id")).cloned(),
        );
        put(&mut metadata, "stop_reason", stop.map(Value::from));
        put(&mut metadata, "error", error);
        if cached > 0 {
            metadata.insert("cached_input_tokens".into(), json!(cached));
        }
        put(
            &mut metadata,
            "max_tokens",
            request.get("max_tokens").cloned(),
        );
        Ok(vec![Draft {
            source: None,
            run_id: string(v, &["run_id", "trace_id", "metadata.run_id", "id"])
                .or_else(|| response.and_then(|r| string(r, &["id"]))),
            ts: timestamp(
                v,
                &["timestamp", "ts", "created_at", "start_time", "startTime"],
            ),
            // The response names the exact model that answered.
            model: response
                .and_then(|r| string(r, &["model"]))
                .or_else(|| string(request, &["model"])),
            task: string(v, &["task", "metadata.task", "metadata.task_id"]),
            prompt: prompt.join("\n"),
            response: text,
            // Anthropic counts cached prompt tokens apart; the prompt is all of them.
            prompt_tokens: u("input_tokens").map(|n| n + cached),
            completion_tokens: u("output_tokens"),
            latency_ms: latency(
                v,
                &["latency_ms", "duration_ms"],
                &["start_time", "startTime"],
                &["end_time", "endTime"],
            ),
            outcome: Some(outcome),
            score: None,
            tags: tags(v, &["tags", "metadata.tags"]),
            metadata,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::fixture;

    #[test]
    fn fixtures_give_blocks_usage_and_errors() {
        let all = fixture::drafts("anthropic_messages");
        assert!(all.len() >= 3);
        let d = &all[0][0];
        assert_eq!(d.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert!(
            d.prompt.starts_with("system: You review pull requests."),
            "{}",
            d.prompt
        );
        assert!(d.response.contains("off-by-one"), "{}", d.response);
        assert!(!d.response.contains("Let me look"), "thinking is left out");
        assert_eq!(
            (d.prompt_tokens, d.completion_tokens),
            (Some(1288 + 1024), Some(96))
        );
        assert_eq!(d.outcome.as_deref(), Some("end_turn"));
        let d = &all[1][0];
        assert!(
            d.response
                .contains("[tool use lookup_invoice({\"invoice\":\"INV-2291\"})]"),
            "{}",
            d.response
        );
        assert!(d.prompt.contains("[tool result: paid]"), "{}", d.prompt);
        assert_eq!(d.outcome.as_deref(), Some("tool_use"));
        let d = &all[2][0];
        assert_eq!(d.outcome.as_deref(), Some("error"));
        assert!(d.response.contains("Overloaded"));
        assert_eq!(d.latency_ms, Some(30_000));
    }

    #[test]
    fn a_line_without_messages_or_response_is_rejected() {
        let r = AnthropicMessages
            .apply(&json!({"model": "claude"}))
            .unwrap_err();
        assert_eq!(r.reason, "missing_messages");
    }
}
