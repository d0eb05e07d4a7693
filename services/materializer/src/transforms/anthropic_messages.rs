//! `anthropic_messages`: a Messages API call — the request (`model`, `system` as a string or
//! text blocks, `messages` whose `content` is a string or content blocks: `text`, `image`,
//! `tool_use`, `tool_result`, `thinking`) and the response (`id`, `content` blocks,
//! `stop_reason`, `usage` with `input_tokens`, `output_tokens` and the cache counts). An
//! error body (`{"type":"error","error":{…}}`) or an `error` field makes a failed call.

use serde_json::{Value, json};

use super::util::{at, first, latency, object, put, string, tags, text_of, timestamp};
use super::{Draft, Reject, Transform, sse};

/// The transform.
#[derive(Debug)]
pub struct AnthropicMessages;

/// The text of Anthropic `content`: a string, or blocks, one per line — but for text blocks
/// next to a cited one, which are pieces of one text (the API splits an answer at its
/// citations).
pub fn blocks_text(c: &Value) -> String {
    let blocks = match c {
        Value::String(s) => return s.clone(),
        Value::Array(blocks) => blocks,
        Value::Null => return String::new(),
        other => return other.to_string(),
    };
    let mut out = String::new();
    // Whether the last block written was text, and whether it was cited.
    let mut last: Option<bool> = None;
    for b in blocks {
        let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
        let (piece, cited) = if kind == "text" {
            let cited = b.get("citations").is_some_and(|c| !c.is_null());
            (b.get("text").map(text_of).unwrap_or_default(), Some(cited))
        } else {
            match block_text(kind, b) {
                Some(p) => (p, None),
                None => continue,
            }
        };
        let continues = matches!((last, cited), (Some(a), Some(b)) if a || b);
        if !out.is_empty() && !continues {
            out.push('\n');
        }
        out.push_str(&piece);
        last = cited;
    }
    out
}

/// One non-text block, or `None` for what is not part of the conversation's text.
pub(crate) fn block_text(kind: &str, b: &Value) -> Option<String> {
    let field = |k: &str| b.get(k).map(text_of).unwrap_or_default();
    Some(match kind {
        "tool_use" | "server_tool_use" | "mcp_tool_use" => {
            format!("[tool use {}({})]", field("name"), field("input"))
        }
        "tool_result" | "mcp_tool_result" => format!(
            "[tool result: {}]",
            b.get("content").map(blocks_text).unwrap_or_default()
        ),
        // Search results arrive encrypted; their cited text is in the answer's text blocks.
        "web_search_tool_result" => "[web search result]".into(),
        k if k.ends_with("_tool_result") => format!("[tool result: {}]", tool_output(b)),
        "image" => "[image]".into(),
        "document" | "container_upload" | "search_result" => format!("[{kind}]"),
        // Reasoning is not part of the answer, and can be long.
        "thinking" | "redacted_thinking" => return None,
        // A block of a type not known here: its text if it has one, never its payload.
        other => match b.get("text").and_then(Value::as_str) {
            Some(t) => t.to_owned(),
            None => format!("[{other}]"),
        },
    })
}

/// The readable output of a server tool's result (code execution's stdout and stderr…).
fn tool_output(b: &Value) -> String {
    let c = b.get("content").unwrap_or(&Value::Null);
    let parts: Vec<String> = ["stdout", "stderr", "text", "content"]
        .iter()
        .filter_map(|k| c.get(k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .collect();
    parts.join("\n")
}

/// The response object: as logged, or assembled from a raw event stream.
fn response_of(v: &Value) -> Option<std::borrow::Cow<'_, Value>> {
    match v.get("response")? {
        r @ Value::Object(_) => Some(std::borrow::Cow::Borrowed(r)),
        Value::String(s) => {
            let events = sse::events(s)?;
            Some(std::borrow::Cow::Owned(sse::anthropic_message(&events)))
        }
        _ => None,
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
        let assembled = response_of(v);
        let response = assembled.as_deref();
        // A failed call still needs its request; so does a legacy completion (`prompt`).
        let Some(messages) = request.get("messages").and_then(Value::as_array) else {
            return Err(Reject::new(
                "missing_messages",
                "request.messages is not present",
            ));
        };
        let mut prompt = Vec::new();
        if let Some(s) = request.get("system") {
            prompt.push(format!("system: {}", blocks_text(s)));
        }
        for m in messages {
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
            Some("error".to_owned())
        } else {
            stop.clone()
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
        put(
            &mut metadata,
            "stop_details",
            response.and_then(|r| r.get("stop_details")).cloned(),
        );
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
            // An error body's `request_id` is the only id a failed call has.
            run_id: string(v, &["run_id", "trace_id", "metadata.run_id", "id"])
                .or_else(|| response.and_then(|r| string(r, &["id", "request_id"]))),
            ts: timestamp(
                v,
                &["timestamp", "ts", "created_at", "start_time", "startTime"],
            )?,
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
            outcome,
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
