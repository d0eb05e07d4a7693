//! The conversation inside GenAI spans, in every shape exporters log it: semantic-convention
//! messages with `parts` (text, tool calls and responses, reasoning, media), OpenAI-style
//! messages, Anthropic content blocks, Bedrock Converse blocks (`{"text"}`, `{"toolUse"}`,
//! `{"toolResult"}`), plain text, JSON strings of any of those, and indexed attributes
//! (`gen_ai.prompt.0.content`, `gen_ai.prompt.0.content.0.text`,
//! `llm.input_messages.0.message.content`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::transforms::anthropic_messages::block_text as anthropic_block;
use crate::transforms::openai_chat::{part_text, tool_calls_text};
use crate::transforms::util::text_of;

/// One message: its role when the log names one, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `user`, `assistant`, `tool` …; `None` for plain text that carries its own.
    pub role: Option<String>,
    /// The rendered text.
    pub text: String,
    /// The choice's finish reason, when the message is one.
    pub finish_reason: Option<String>,
}

/// `role: text` lines.
pub fn render(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| match &m.role {
            Some(r) => format!("{r}: {}", m.text),
            None => m.text.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The messages in a logged value; `role` for those that do not name their own.
pub fn messages(v: &Value, role: Option<&str>) -> Vec<Message> {
    match v {
        // Text that parses as JSON is taken apart only when it is messages or blocks: an
        // answer that happens to be JSON (`[12345,67890]`) stays as it was written.
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(p) if is_conversation(&p) => messages(&p, role),
            _ => vec![plain(role, s.clone())],
        },
        Value::Array(items) if items.iter().any(is_message) => {
            items.iter().flat_map(|m| messages(m, role)).collect()
        }
        Value::Array(items) => vec![plain(role, blocks(items))],
        // A choice event's body: `{index, finish_reason, message: {…}}`.
        Value::Object(m) if m.get("message").is_some_and(Value::is_object) => {
            let mut out = messages(&m["message"], role);
            if let Some(first) = out.first_mut() {
                first.finish_reason = m.get("finish_reason").map(text_of);
            }
            out
        }
        Value::Object(m) if is_message(v) => vec![message(m, role)],
        Value::Null => Vec::new(),
        other => vec![plain(role, block(other).unwrap_or_default())],
    }
}

fn plain(role: Option<&str>, text: String) -> Message {
    Message {
        role: role.map(str::to_owned),
        text,
        finish_reason: None,
    }
}

fn is_conversation(v: &Value) -> bool {
    match v {
        Value::Array(items) => {
            !items.is_empty() && items.iter().all(|i| is_message(i) || is_block(i))
        }
        Value::Object(m) => is_message(v) || m.get("message").is_some_and(Value::is_object),
        _ => false,
    }
}

/// A typed part or block, or a Bedrock block (one key naming its kind).
fn is_block(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.contains_key("type")
            || (m.len() <= 2
                && [
                    "text",
                    "toolUse",
                    "toolResult",
                    "image",
                    "document",
                    "reasoningContent",
                ]
                .iter()
                .any(|k| m.contains_key(*k)))
    })
}

fn is_message(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.contains_key("role")
            || m.contains_key("parts")
            || (m.contains_key("content") && !m.contains_key("type"))
    })
}

fn message(m: &Map<String, Value>, role: Option<&str>) -> Message {
    let role = m.get("role").and_then(Value::as_str).or(role);
    let mut pieces = Vec::new();
    match m.get("parts").or_else(|| m.get("content")) {
        Some(Value::Array(items)) => pieces.push(blocks(items)),
        Some(Value::String(s)) => pieces.push(s.clone()),
        Some(other @ Value::Object(_)) => pieces.extend(block(other)),
        _ => {}
    }
    let whole = Value::Object(m.clone());
    pieces.extend(tool_calls_text(&whole));
    Message {
        role: role.map(str::to_owned),
        text: join(pieces),
        finish_reason: m.get("finish_reason").map(text_of),
    }
}

fn join(pieces: impl IntoIterator<Item = String>) -> String {
    pieces
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Blocks or parts, one per line.
pub fn blocks(items: &[Value]) -> String {
    join(items.iter().filter_map(block))
}

/// One part or block in any of the conventions; `None` for reasoning, which is not part of
/// the conversation's text. Media become placeholders, never their URL, id or bytes.
pub fn block(b: &Value) -> Option<String> {
    let m = match b {
        Value::String(s) => return Some(s.clone()),
        Value::Object(m) => m,
        Value::Null => return None,
        other => return Some(other.to_string()),
    };
    let field = |k: &str| m.get(k).map(text_of).unwrap_or_default();
    let Some(kind) = m.get("type").and_then(Value::as_str) else {
        return bedrock_block(m);
    };
    Some(match kind {
        "text" => m.get("text").or_else(|| m.get("content")).map(text_of)?,
        "tool_call" => format!("[tool call {}({})]", field("name"), field("arguments")),
        "tool_call_response" => m
            .get("response")
            .or_else(|| m.get("result"))
            .or_else(|| m.get("content"))
            .map(text_of)
            .unwrap_or_default(),
        "server_tool_call" => {
            format!(
                "[tool call {}({})]",
                field("name"),
                field("server_tool_call")
            )
        }
        "server_tool_call_response" => {
            format!("[tool result: {}]", field("server_tool_call_response"))
        }
        "reasoning" | "thinking" | "redacted_thinking" => return None,
        "uri" | "file" | "blob" => media(m.get("modality").and_then(Value::as_str)),
        "image_url" | "input_image" | "input_audio" | "input_file" | "input_text"
        | "output_text" | "refusal" => part_text(b),
        other => anthropic_block(other, b)?,
    })
}

fn media(modality: Option<&str>) -> String {
    match modality {
        Some(m @ ("image" | "video" | "audio")) => format!("[{m}]"),
        _ => "[file]".into(),
    }
}

/// A Bedrock Converse content block: one key naming its kind.
fn bedrock_block(m: &Map<String, Value>) -> Option<String> {
    if let Some(t) = m.get("text") {
        return Some(text_of(t));
    }
    if let Some(u) = m.get("toolUse") {
        let name = u.get("name").map(text_of).unwrap_or_default();
        let input = u.get("input").map(text_of).unwrap_or_default();
        return Some(format!("[tool use {name}({input})]"));
    }
    if let Some(r) = m.get("toolResult") {
        let content = match r.get("content") {
            Some(Value::Array(items)) => blocks(items),
            Some(other) => text_of(other),
            None => String::new(),
        };
        return Some(format!("[tool result: {content}]"));
    }
    for (key, placeholder) in [
        ("image", "[image]"),
        ("video", "[video]"),
        ("document", "[file]"),
    ] {
        if m.contains_key(key) {
            return Some(placeholder.into());
        }
    }
    if m.contains_key("reasoningContent") || m.contains_key("cachePoint") {
        return None;
    }
    Some(Value::Object(m.clone()).to_string())
}

/// Messages from indexed attributes `{prefix}.{i}{inner}.…` (`inner` is `""` for
/// `gen_ai.prompt.0.role`, `".message"` for OpenInference's `llm.input_messages.0.message.role`).
pub fn indexed(attrs: &Map<String, Value>, prefix: &str, inner: &str) -> Vec<Message> {
    let keys: BTreeSet<&str> = attrs
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with(prefix))
        .collect();
    let mut out = Vec::new();
    for i in 0usize.. {
        let base = format!("{prefix}.{i}{inner}");
        let dotted = format!("{base}.");
        if !keys.iter().any(|k| k.starts_with(&dotted)) {
            break;
        }
        let get = |k: &str| attrs.get(&format!("{base}.{k}")).filter(|v| !v.is_null());
        let mut pieces: Vec<String> = Vec::new();
        if let Some(c) = get("content").or_else(|| get("text")) {
            let texts: Vec<String> = messages(c, None).into_iter().map(|m| m.text).collect();
            pieces.push(join(texts));
        }
        // Content as numbered parts: `.content.0.text`, `.contents.0.message_content.text`.
        pieces.extend(numbered(
            &keys,
            attrs,
            &format!("{base}.content"),
            &["text"],
        ));
        pieces.extend(numbered(
            &keys,
            attrs,
            &format!("{base}.contents"),
            &["message_content.text"],
        ));
        for call in 0usize.. {
            let c = format!("{base}.tool_calls.{call}");
            let name = attrs
                .get(&format!("{c}.name"))
                .or_else(|| attrs.get(&format!("{c}.tool_call.function.name")));
            let Some(name) = name else { break };
            let args = attrs
                .get(&format!("{c}.arguments"))
                .or_else(|| attrs.get(&format!("{c}.tool_call.function.arguments")))
                .map(text_of)
                .unwrap_or_default();
            pieces.push(format!("[tool call {}({args})]", text_of(name)));
        }
        out.push(Message {
            role: Some(get("role").map_or_else(|| "assistant".into(), text_of)),
            text: join(pieces),
            finish_reason: get("finish_reason").map(text_of),
        });
    }
    out
}

fn numbered(
    keys: &BTreeSet<&str>,
    attrs: &Map<String, Value>,
    base: &str,
    leaves: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for j in 0usize.. {
        let part = format!("{base}.{j}.");
        if !keys.iter().any(|k| k.starts_with(&part)) {
            break;
        }
        out.extend(
            leaves
                .iter()
                .filter_map(|leaf| attrs.get(&format!("{part}{leaf}")))
                .map(text_of),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(v: &Value) -> String {
        render(&messages(v, None))
    }

    #[test]
    fn semantic_convention_parts_render_text_calls_and_media_but_not_reasoning() {
        let v = json!([
            {"role": "user", "parts": [{"type": "text", "content": "Weather?"},
                {"type": "blob", "modality": "image", "content": "aGVsbG8="},
                {"type": "uri", "modality": "video", "uri": "gs://b/v.mp4"},
                {"type": "file", "file_id": "f1"}]},
            {"role": "assistant", "parts": [{"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "name": "get", "arguments": {"q": 1}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "response": "rainy"}]}
        ]);
        assert_eq!(
            texts(&v),
            "user: Weather?\n[image]\n[video]\n[file]\nassistant: [tool call get({\"q\":1})]\ntool: rainy"
        );
    }

    #[test]
    fn bedrock_and_anthropic_blocks_in_json_strings() {
        let bedrock = json!("[{\"toolUse\": {\"name\": \"loc\", \"input\": {}}}]");
        assert_eq!(
            render(&messages(&bedrock, Some("assistant"))),
            "assistant: [tool use loc({})]"
        );
        let result = json!("[{\"toolResult\": {\"content\": [{\"text\": \"London\"}]}}]");
        assert_eq!(
            render(&messages(&result, Some("tool"))),
            "tool: [tool result: London]"
        );
        let anthropic = json!([{"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
            {"type": "tool_use", "name": "w", "input": {"l": "x"}}]}, {"role": "user", "content": "Thanks!"}]);
        assert_eq!(
            texts(&anthropic),
            "assistant: Let me check.\n[tool use w({\"l\":\"x\"})]\nuser: Thanks!"
        );
        // Plain text that names its own role stays as it is, and so does a JSON answer.
        assert_eq!(texts(&json!("user: hi")), "user: hi");
        assert_eq!(
            render(&messages(&json!("[12345,67890]"), Some("assistant"))),
            "assistant: [12345,67890]"
        );
        assert_eq!(
            render(&messages(&json!("{\"text\": \"a\", \"score\": 1}"), None)),
            "{\"text\": \"a\", \"score\": 1}"
        );
    }

    #[test]
    fn indexed_attributes_flat_nested_and_openinference() {
        let attrs: Map<String, Value> = serde_json::from_value(json!({
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content.0.text": "yo",
            "gen_ai.prompt.1.role": "assistant",
            "gen_ai.prompt.1.tool_calls.0.name": "f",
            "gen_ai.prompt.1.tool_calls.0.arguments": "{}",
            "gen_ai.completion.0.text": "Hello!",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
        }))
        .unwrap();
        assert_eq!(
            render(&indexed(&attrs, "gen_ai.prompt", "")),
            "user: yo\nassistant: [tool call f({})]"
        );
        assert_eq!(indexed(&attrs, "gen_ai.completion", "")[0].text, "Hello!");
        assert_eq!(
            render(&indexed(&attrs, "llm.input_messages", ".message")),
            "system: Be brief."
        );
        assert!(indexed(&attrs, "gen_ai.nothing", "").is_empty());
    }
}
