//! `scored_run`: an evaluation row — a task's `prompt` / `input`, the model's `response` /
//! `output`, a numeric `score` (with optional `max_score`, `passed`, `grader`, `rubric`),
//! usage and latency.

use serde_json::Value;

use super::util::{
    boolean, first, float, int, latency, object, put, string, tags, text_of, timestamp,
};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct ScoredRun;

impl Transform for ScoredRun {
    fn kind(&self) -> &'static str {
        "scored_run"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        let score = float(v, &["score", "scores.overall", "grade"])
            .ok_or_else(|| Reject::new("missing_score", "no numeric score field"))?;
        let passed = boolean(v, &["passed", "pass"]);
        let mut metadata = object(v, &["metadata"]);
        for k in [
            "max_score",
            "grader",
            "judge",
            "rubric",
            "scores",
            "expected",
            "dataset",
            "split",
        ] {
            put(&mut metadata, k, v.get(k).cloned());
        }
        Ok(vec![Draft {
            source: None,
            run_id: string(v, &["run_id", "eval_run_id", "trace_id"]),
            ts: timestamp(v, &["ts", "timestamp", "created_at", "scored_at"])?,
            model: string(v, &["model"]),
            task: string(v, &["task", "task_id", "case_id"]),
            prompt: first(v, &["prompt", "input", "question"])
                .map(text_of)
                .unwrap_or_default(),
            response: first(v, &["response", "output", "answer"])
                .map(text_of)
                .unwrap_or_default(),
            prompt_tokens: int(
                v,
                &["usage.prompt_tokens", "usage.input_tokens", "prompt_tokens"],
            ),
            completion_tokens: int(
                v,
                &[
                    "usage.completion_tokens",
                    "usage.output_tokens",
                    "completion_tokens",
                ],
            ),
            latency_ms: latency(
                v,
                &["latency_ms", "duration_ms"],
                &["start_time"],
                &["end_time"],
            ),
            outcome: Some(match passed {
                Some(true) => "pass".into(),
                Some(false) => "fail".into(),
                None => "scored".into(),
            }),
            score: Some(score),
            tags: tags(v, &["tags"]),
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
    fn fixtures_give_scores_and_verdicts() {
        let all = fixture::drafts("scored_run");
        let d = &all[0][0];
        assert_eq!(d.score, Some(0.8));
        assert_eq!(d.outcome.as_deref(), Some("pass"));
        assert_eq!(d.metadata["grader"], json!("gpt-4o-judge"));
        assert_eq!(
            (d.prompt_tokens, d.completion_tokens),
            (Some(120), Some(45))
        );
        assert_eq!(all[1][0].outcome.as_deref(), Some("scored"));
    }

    #[test]
    fn a_score_is_required() {
        let r = ScoredRun
            .apply(&json!({"prompt": "p", "score": "high"}))
            .unwrap_err();
        assert_eq!(r.reason, "missing_score");
    }
}
