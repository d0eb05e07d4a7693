//! Streamed responses logged as the raw server-sent-event body (`event: …\ndata: {…}`), as
//! some recorders do: assembled into the message the stream describes, so the row holds the
//! answer and its usage, never the wire text.

use serde_json::{Map, Value, json};

/// The JSON `data:` payloads of an event stream, in order; `None` when `text` is not one.
pub fn events(text: &str) -> Option<Vec<Value>> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with("event:") || trimmed.starts_with("data:")) {
        return None;
    }
    let out: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    (!out.is_empty()).then_some(out)
}

/// An Anthropic Messages stream (`message_start`, `content_block_start` / `_delta` /
/// `_stop`, `message_delta`) as the Message it assembles to.
pub fn anthropic_message(events: &[Value]) -> Value {
    let mut message = Map::new();
    let mut blocks: Vec<Map<String, Value>> = Vec::new();
    let mut partial_json: Vec<String> = Vec::new();
    for e in events {
        match e.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(Value::Object(m)) = e.get("message") {
                    message = m.clone();
                }
            }
            Some("content_block_start") => {
                let block = e.get("content_block").and_then(Value::as_object);
                blocks.push(block.cloned().unwrap_or_default());
                partial_json.push(String::new());
            }
            Some("content_block_delta") => {
                let Some(i) = block_index(e, blocks.len()) else {
                    continue;
                };
                let delta = e.get("delta").unwrap_or(&Value::Null);
                let piece = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => append(&mut blocks[i], "text", piece("text")),
                    Some("thinking_delta") => append(&mut blocks[i], "thinking", piece("thinking")),
                    Some("input_json_delta") => partial_json[i].push_str(piece("partial_json")),
                    // Signatures and citations are not part of the answer.
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(Value::Object(d)) = e.get("delta") {
                    for (k, v) in d {
                        message.insert(k.clone(), v.clone());
                    }
                }
                // The final usage is cumulative: its counts replace the start's.
                if let Some(Value::Object(u)) = e.get("usage") {
                    let usage = message.entry("usage").or_insert_with(|| json!({}));
                    if let Value::Object(total) = usage {
                        for (k, v) in u {
                            total.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (block, json) in blocks.iter_mut().zip(partial_json) {
        if !json.is_empty() {
            let input = serde_json::from_str(&json).unwrap_or(Value::String(json));
            block.insert("input".into(), input);
        }
    }
    message.insert(
        "content".into(),
        Value::Array(blocks.into_iter().map(Value::Object).collect()),
    );
    Value::Object(message)
}

/// An OpenAI Chat Completions stream (`chat.completion.chunk` objects) as the completion it
/// assembles to: content, refusal and tool-call deltas joined per choice, the last usage.
pub fn openai_completion(events: &[Value]) -> Value {
    let mut out = Map::new();
    let mut choices: Vec<Map<String, Value>> = Vec::new();
    for chunk in events {
        for k in ["id", "created", "model", "system_fingerprint", "usage"] {
            if let Some(v) = chunk.get(k).filter(|v| !v.is_null()) {
                out.insert(k.into(), v.clone());
            }
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if i > 64 {
                continue;
            }
            while choices.len() <= i {
                choices.push(Map::from_iter([("message".into(), json!({}))]));
            }
            let choice = &mut choices[i];
            if let Some(f) = c.get("finish_reason").filter(|f| !f.is_null()) {
                choice.insert("finish_reason".into(), f.clone());
            }
            let (Some(delta), Some(Value::Object(message))) =
                (c.get("delta"), choice.get_mut("message"))
            else {
                continue;
            };
            for k in ["content", "refusal"] {
                if let Some(s) = delta.get(k).and_then(Value::as_str) {
                    append(message, k, s);
                }
            }
            if let Some(r) = delta.get("role") {
                message.insert("role".into(), r.clone());
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                merge_tool_call(message, call);
            }
        }
    }
    out.insert(
        "choices".into(),
        Value::Array(choices.into_iter().map(Value::Object).collect()),
    );
    Value::Object(out)
}

fn merge_tool_call(message: &mut Map<String, Value>, call: &Value) {
    let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
    let calls = message.entry("tool_calls").or_insert_with(|| json!([]));
    let Value::Array(calls) = calls else {
        return;
    };
    if i > 64 {
        return;
    }
    while calls.len() <= i {
        calls.push(json!({"function": {"name": "", "arguments": ""}}));
    }
    let Some(Value::Object(function)) = calls[i].get_mut("function") else {
        return;
    };
    let f = call.get("function").unwrap_or(&Value::Null);
    for k in ["name", "arguments"] {
        if let Some(s) = f.get(k).and_then(Value::as_str) {
            append(function, k, s);
        }
    }
}

fn block_index(e: &Value, len: usize) -> Option<usize> {
    let i = e
        .get("index")
        .and_then(Value::as_u64)
        .map_or(len.checked_sub(1)?, |i| i as usize);
    (i < len).then_some(i)
}

fn append(m: &mut Map<String, Value>, key: &str, piece: &str) {
    match m.get_mut(key) {
        Some(Value::String(s)) => s.push_str(piece),
        _ => {
            m.insert(key.to_owned(), Value::String(piece.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anthropic_stream_assembles_text_tool_input_and_final_usage() {
        let body = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","model":"claude","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hel"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"lo"}}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","name":"f","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"1}"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}

event: message_stop
data: {"type":"message_stop"}
"#;
        let m = anthropic_message(&events(body).unwrap());
        assert_eq!(m["id"], "msg_1");
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"], json!({"input_tokens": 12, "output_tokens": 30}));
        assert_eq!(m["content"][0]["thinking"], "hmm");
        assert_eq!(m["content"][1]["text"], "Hello");
        assert_eq!(m["content"][2]["input"], json!({"a": 1}));
    }

    #[test]
    fn an_openai_stream_assembles_choices_tool_calls_and_usage() {
        let body = "data: {\"id\":\"c1\",\"created\":1700000000,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Fo\"}}]}\n\n\
                    data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"o!\",\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n\
                    data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":2}\"}}]},\"finish_reason\":\"stop\"}]}\n\n\
                    data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n\
                    data: [DONE]\n";
        let c = openai_completion(&events(body).unwrap());
        assert_eq!(c["choices"][0]["message"]["content"], "Foo!");
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"],
            json!({"name": "g", "arguments": "{\"x\":2}"})
        );
        assert_eq!(c["usage"]["completion_tokens"], 2);
        assert_eq!(c["created"], 1_700_000_000);
    }

    #[test]
    fn text_that_is_not_an_event_stream_is_left_alone() {
        assert_eq!(events("Hello, world"), None);
        assert_eq!(events("event: ping\n"), None);
    }
}
