//! `tool_call`: one tool invocation by an agent — `tool` (or `name`, `tool_name`,
//! `function.name`), its `arguments` / `input`, its `result` / `output` or `error`, timing.

use serde_json::Value;

use super::util::{first, float, int, latency, object, put, string, tags, text_of, timestamp};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct ToolCall;

impl Transform for ToolCall {
    fn kind(&self) -> &'static str {
        "tool_call"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        let tool = string(v, &["tool", "name", "tool_name", "function.name"])
            .ok_or_else(|| Reject::new("missing_tool", "no tool, name or tool_name field"))?;
        let args = first(v, &["arguments", "args", "input", "function.arguments"])
            .map(text_of)
            .unwrap_or_default();
        let error = first(v, &["error"]).cloned();
        let response = match &error {
            Some(e) => first(e, &["message"]).map_or_else(|| text_of(e), text_of),
            None => first(v, &["result", "output", "response"])
                .map(text_of)
                .unwrap_or_default(),
        };
        let mut metadata = object(v, &["metadata"]);
        metadata.insert("tool".into(), tool.clone().into());
        put(
            &mut metadata,
            "call_id",
            first(v, &["call_id", "tool_call_id", "id"]).cloned(),
        );
        put(&mut metadata, "error", error.clone());
        let mut t = tags(v, &["tags", "metadata.tags"]);
        t.push(format!("tool:{tool}"));
        Ok(vec![Draft {
            source: None,
            run_id: string(v, &["run_id", "trace_id", "session_id"]),
            ts: timestamp(
                v,
                &["ts", "timestamp", "started_at", "start_time", "created_at"],
            )?,
            model: string(v, &["model"]),
            task: string(v, &["task", "task_id"]),
            prompt: format!("{tool}({args})"),
            response,
            prompt_tokens: int(v, &["usage.prompt_tokens", "usage.input_tokens"]),
            completion_tokens: int(v, &["usage.completion_tokens", "usage.output_tokens"]),
            latency_ms: latency(
                v,
                &["duration_ms", "latency_ms", "elapsed_ms"],
                &["started_at", "start_time"],
                &["ended_at", "end_time"],
            ),
            outcome: Some(if error.is_some() { "error" } else { "ok" }.into()),
            score: float(v, &["score"]),
            tags: t,
            metadata,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::fixture;
    use serde_json::json;

    #[test]
    fn fixtures_give_calls_results_and_errors() {
        let all = fixture::drafts("tool_call");
        let d = &all[0][0];
        assert_eq!(
            d.prompt,
            r#"search_orders({"customer":"c_19","status":"open"})"#
        );
        assert!(d.response.contains("ord_77"));
        assert_eq!(d.outcome.as_deref(), Some("ok"));
        assert_eq!(d.latency_ms, Some(182));
        assert!(d.tags.contains(&"tool:search_orders".to_owned()));
        let d = &all[1][0];
        assert_eq!(d.outcome.as_deref(), Some("error"));
        assert_eq!(d.response, "connection refused: db-2:5432");
        assert_eq!(d.latency_ms, Some(2000));
    }

    #[test]
    fn a_call_without_a_tool_name_is_rejected() {
        assert_eq!(
            ToolCall.apply(&json!({"args": {}})).unwrap_err().reason,
            "missing_tool"
        );
    }
}
