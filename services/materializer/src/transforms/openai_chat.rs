//! `openai_chat`: a Chat Completions call as an LLM proxy logs it — the request (`model`,
//! `messages` with string or part-array content, tool calls) and the response (`id`,
//! `created`, `choices[].message`, `finish_reason`, `usage`). Accepted layouts:
//! `{request, response, …}` (the common proxy log), and the flat one where `messages` and
//! `choices` sit at the top (LiteLLM-style payloads). An `error` field makes a failed call.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::util::{at, first, first_timestamp, int, latency, object, put, string, tags, text_of};
use super::{Draft, Reject, Transform, sse};

/// The transform.
#[derive(Debug)]
pub struct OpenAiChat;

/// The text of an OpenAI `content`: a string, or an array of parts.
pub fn content_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().map(part_text).collect::<Vec<_>>().join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One content part: its text, or a placeholder for media (never a URL or base64 data).
pub fn part_text(p: &Value) -> String {
    match p.get("type").and_then(Value::as_str) {
        Some("text" | "input_text" | "output_text") => {
            p.get("text").map(text_of).unwrap_or_default()
        }
        Some("image_url" | "input_image") => "[image]".into(),
        Some("input_audio") => "[audio]".into(),
        Some("file" | "input_file") => "[file]".into(),
        Some("refusal") => p.get("refusal").map(text_of).unwrap_or_default(),
        _ => text_of(p),
    }
}

/// Tool calls as `[tool call name(args)]`, the legacy `function_call` included.
pub(crate) fn tool_calls_text(m: &Value) -> Vec<String> {
    let calls = m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    calls
        .chain(m.get("function_call").filter(|f| f.is_object()))
        .map(|c| {
            let f = c.get("function").unwrap_or(c);
            format!(
                "[tool call {}({})]",
                f.get("name").map(text_of).unwrap_or_default(),
                f.get("arguments").map(text_of).unwrap_or_default()
            )
        })
        .collect()
}

/// One message's text: its content (or, when the model declined, its refusal), then its
/// tool calls.
pub fn message_text(m: &Value) -> String {
    let mut content = m.get("content").map(content_text).unwrap_or_default();
    if content.is_empty() {
        content = m.get("refusal").map(text_of).unwrap_or_default();
    }
    std::iter::once(content)
        .chain(tool_calls_text(m))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `role: content` lines for a message list.
pub fn render_messages(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            format!("{role}: {}", message_text(m))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The response object: as logged, assembled from a raw event stream, or the line itself
/// (the flat layout).
fn response_of(v: &Value) -> Cow<'_, Value> {
    match v.get("response") {
        Some(r @ Value::Object(_)) => Cow::Borrowed(r),
        Some(Value::String(s)) => match sse::events(s) {
            Some(events) => Cow::Owned(sse::openai_completion(&events)),
            None => Cow::Borrowed(v),
        },
        _ => Cow::Borrowed(v),
    }
}

/// Where proxies write when a call happened.
const WRAPPER_TIMES: &[&str] = &[
    "timestamp",
    "ts",
    "created_at",
    "startTime",
    "start_time",
    "request_time",
];

impl Transform for OpenAiChat {
    fn kind(&self) -> &'static str {
        "openai_chat"
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
        let response = assembled.as_ref();
        let messages = request.get("messages").and_then(Value::as_array);
        let choices = response.get("choices").and_then(Value::as_array);
        let error = first(v, &["error", "response.error"]).cloned();
        if messages.is_none() && choices.is_none() {
            return Err(Reject::new(
                "missing_messages",
                "neither request.messages nor response.choices is present",
            ));
        }
        let prompt = messages.map(|m| render_messages(m)).unwrap_or_default();
        let first_choice = choices.and_then(|c| c.first());
        // A choice without `message` (a content filter's verdict) has no text.
        let mut response_text = match first_choice.and_then(|c| c.get("message")) {
            Some(m) => message_text(m),
            None => match v.get("response") {
                Some(Value::String(s)) if first_choice.is_none() => s.clone(),
                _ => String::new(),
            },
        };
        let finish = first_choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let outcome = if let Some(e) = &error {
            if response_text.is_empty() {
                response_text = at(e, "message").map_or_else(|| text_of(e), text_of);
            }
            Some("error".to_owned())
        } else {
            finish.clone()
        };
        let mut metadata = object(v, &["metadata"]);
        put(&mut metadata, "response_id", response.get("id").cloned());
        put(&mut metadata, "finish_reason", finish.map(Value::from));
        put(&mut metadata, "error", error);
        // Already inside `prompt_tokens`: kept apart, never added.
        put(
            &mut metadata,
            "cached_tokens",
            at(response, "usage.prompt_tokens_details.cached_tokens").cloned(),
        );
        put(
            &mut metadata,
            "reasoning_tokens",
            at(response, "usage.completion_tokens_details.reasoning_tokens").cloned(),
        );
        let params: Map<String, Value> = [
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "seed",
        ]
        .iter()
        .filter_map(|k| request.get(*k).map(|x| ((*k).to_owned(), x.clone())))
        .collect();
        if !params.is_empty() {
            metadata.insert("params".into(), Value::Object(params));
        }
        if let Some(n) = messages.map(Vec::len) {
            metadata.insert("messages".into(), json!(n));
        }
        Ok(vec![Draft {
            source: None,
            run_id: string(
                v,
                &[
                    "run_id",
                    "trace_id",
                    "metadata.run_id",
                    "metadata.trace_id",
                    "id",
                ],
            )
            .or_else(|| string(response, &["id"])),
            // The proxy's own time first; the API's `created` when it has none.
            ts: first_timestamp(&[(v, WRAPPER_TIMES), (response, &["created"])])?,
            // The response names the exact model that answered.
            model: string(response, &["model"]).or_else(|| string(request, &["model"])),
            task: string(v, &["task", "metadata.task", "metadata.task_id"]),
            prompt,
            response: response_text,
            prompt_tokens: int(response, &["usage.prompt_tokens"])
                .or_else(|| int(v, &["usage.prompt_tokens", "prompt_tokens"])),
            completion_tokens: int(response, &["usage.completion_tokens"])
                .or_else(|| int(v, &["usage.completion_tokens", "completion_tokens"])),
            latency_ms: latency(
                v,
                &["latency_ms", "duration_ms"],
                &["startTime", "start_time"],
                &["endTime", "end_time"],
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
    fn fixtures_give_prompt_response_usage_and_time() {
        let all = fixture::drafts("openai_chat");
        assert!(all.len() >= 4);
        let d = &all[0][0];
        assert_eq!(d.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert!(
            d.prompt.starts_with("system: You are a support agent."),
            "{}",
            d.prompt
        );
        assert!(d.prompt.contains("user: Where is my order #1182?"));
        assert!(d.response.contains("shipped on"));
        assert_eq!((d.prompt_tokens, d.completion_tokens), (Some(41), Some(23)));
        assert_eq!(d.outcome.as_deref(), Some("stop"));
        assert_eq!(d.latency_ms, Some(812));
        assert!(d.ts.is_some());
        // Part-array content and tool calls.
        let d = &all[1][0];
        assert!(d.prompt.contains("[image]"), "{}", d.prompt);
        assert!(
            d.response
                .contains("[tool call get_weather({\"city\":\"Lisbon\"})]"),
            "{}",
            d.response
        );
        assert_eq!(d.outcome.as_deref(), Some("tool_calls"));
        // No usage: left to estimation.
        assert_eq!(all[2][0].prompt_tokens, None);
        // A failed call.
        assert_eq!(all[3][0].outcome.as_deref(), Some("error"));
        assert!(all[3][0].response.contains("Rate limit"));
    }

    #[test]
    fn a_line_without_messages_or_choices_is_rejected() {
        let r = OpenAiChat
            .apply(&json!({"request": {"model": "x"}}))
            .unwrap_err();
        assert_eq!(r.reason, "missing_messages");
        assert_eq!(
            OpenAiChat.apply(&json!([1])).unwrap_err().reason,
            "not_an_object"
        );
    }
}
