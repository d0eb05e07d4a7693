//! `validation`: the verdict of a check on a model output — `validator` (or `name`,
//! `check`), `passed` (or `ok`, `valid`), `failures` or `reason`, the checked `output` and
//! what it answered (`input` / `target`), an optional `score`.

use serde_json::Value;

use super::util::{boolean, first, float, object, put, string, tags, text_of, timestamp};
use super::{Draft, Reject, Transform};

/// The transform.
#[derive(Debug)]
pub struct Validation;

impl Transform for Validation {
    fn kind(&self) -> &'static str {
        "validation"
    }

    fn apply(&self, v: &Value) -> Result<Vec<Draft>, Reject> {
        if !v.is_object() {
            return Err(Reject::new(
                "not_an_object",
                "the line is not a JSON object",
            ));
        }
        let validator = string(v, &["validator", "name", "check"])
            .ok_or_else(|| Reject::new("missing_validator", "no validator, name or check field"))?;
        let passed = boolean(v, &["passed", "ok", "valid"]).ok_or_else(|| {
            Reject::new("missing_verdict", "no boolean passed, ok or valid field")
        })?;
        let failures: Vec<String> = match first(v, &["failures", "errors", "reason", "message"]) {
            Some(Value::Array(a)) => a.iter().map(text_of).collect(),
            Some(other) => vec![text_of(other)],
            None => Vec::new(),
        };
        let mut metadata = object(v, &["metadata"]);
        metadata.insert("validator".into(), validator.clone().into());
        if !failures.is_empty() {
            metadata.insert("failures".into(), failures.into());
        }
        put(&mut metadata, "expected", first(v, &["expected"]).cloned());
        let mut t = tags(v, &["tags"]);
        t.push(format!("validator:{validator}"));
        Ok(vec![Draft {
            source: None,
            run_id: string(v, &["run_id", "trace_id"]),
            ts: timestamp(v, &["ts", "timestamp", "checked_at", "created_at"])?,
            model: string(v, &["model"]),
            task: string(v, &["task", "task_id"]),
            prompt: first(v, &["input", "target", "subject", "prompt"])
                .map(text_of)
                .unwrap_or_default(),
            response: first(v, &["output", "response", "value"])
                .map(text_of)
                .unwrap_or_default(),
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: float(v, &["duration_ms", "latency_ms"]).map(|f| f.round() as i64),
            outcome: Some(if passed { "pass" } else { "fail" }.into()),
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
    fn fixtures_give_verdicts_and_failures() {
        let all = fixture::drafts("validation");
        let d = &all[0][0];
        assert_eq!(d.outcome.as_deref(), Some("pass"));
        assert_eq!(d.score, Some(1.0));
        let d = &all[1][0];
        assert_eq!(d.outcome.as_deref(), Some("fail"));
        assert_eq!(d.metadata["failures"], json!(["max_chars: 212 > 160"]));
        assert!(d.response.starts_with("Your appointment"));
    }

    #[test]
    fn a_verdict_is_required() {
        let r = Validation.apply(&json!({"validator": "json"})).unwrap_err();
        assert_eq!(r.reason, "missing_verdict");
    }
}
