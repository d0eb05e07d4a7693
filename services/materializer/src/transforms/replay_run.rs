//! `replay_run`: this project's own `replay_run.v1` rows (see docs/evidence.md), as replay
//! logs them to `raw/replay_run/`: the task, the answer, what was retrieved, the verdict.

use serde_json::{Value, json};

use super::util::{first, int, put, string, text_of, timestamp};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct ReplayRun;

impl Transform for ReplayRun {
    fn kind(&self) -> &'static str {
        "replay_run"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        match v.get("schema").and_then(Value::as_str) {
            Some("replay_run.v1") => {}
            other => {
                return Err(Reject::new(
                    "unknown_schema",
                    format!("schema is {other:?}, expected \"replay_run.v1\""),
                ));
            }
        }
        let task_id =
            string(v, &["task_id"]).ok_or_else(|| Reject::new("missing_task", "no task_id"))?;
        let mut metadata = serde_json::Map::new();
        for k in [
            "retrieved_ids",
            "retrieved_distances",
            "bundled_ids",
            "failures",
            "error",
            "dataset_version",
            "index_name",
            "index_version",
            "attempts",
        ] {
            put(&mut metadata, k, v.get(k).cloned());
        }
        let verdict = string(v, &["verdict"]).unwrap_or_else(|| "unknown".into());
        Ok(vec![Draft {
            source: None,
            run_id: string(v, &["run_id"]),
            ts: timestamp(v, &["ts"])?,
            model: string(v, &["model"]),
            task: Some(task_id),
            prompt: first(v, &["prompt"]).map(text_of).unwrap_or_default(),
            response: first(v, &["response"]).map(text_of).unwrap_or_default(),
            prompt_tokens: int(v, &["prompt_tokens"]),
            completion_tokens: int(v, &["completion_tokens"]),
            latency_ms: int(v, &["latency_ms"]),
            outcome: Some(verdict),
            score: None,
            tags: vec!["replay".into()],
            metadata: metadata
                .into_iter()
                .filter(|(_, x)| x != &json!([]))
                .collect(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::fixture;

    #[test]
    fn fixtures_give_replays_with_their_verdicts() {
        let all = fixture::drafts("replay_run");
        let d = &all[0][0];
        assert_eq!(d.task.as_deref(), Some("sms-reminder"));
        assert_eq!(d.outcome.as_deref(), Some("pass"));
        assert_eq!(
            d.metadata["retrieved_ids"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(d.prompt_tokens, Some(310));
        let d = &all[1][0];
        assert_eq!(d.outcome.as_deref(), Some("error"));
        assert!(d.metadata["error"].as_str().unwrap().contains("timed out"));
    }

    #[test]
    fn other_schemas_are_rejected() {
        let r = ReplayRun
            .apply(&json!({"schema": "x", "task_id": "t"}))
            .unwrap_err();
        assert_eq!(r.reason, "unknown_schema");
    }
}
