//! Checks on a model's answer. Each failure is a sentence naming the validator, so a
//! `replay_runs` row says exactly why it failed.

use lakehouse_jobs::pii::find_ssns;
use serde_json::Value;

/// One check.
#[derive(Debug, Clone)]
pub enum Validator {
    /// The answer has non-whitespace text.
    NonEmpty,
    /// At most this many characters (e.g. 160 for an SMS).
    MaxChars(usize),
    /// Parses as a JSON object holding these keys (a ```json fence around it is allowed).
    Json(Vec<String>),
    /// Matches this regular expression somewhere (anchor it for a whole match).
    Regex(regex::Regex),
    /// Holds no SSN-shaped string (phone numbers and dates pass).
    NoPii,
}

impl Validator {
    /// From a task's JSON: `"non_empty"`, `{"max_chars": 160}`, `"json"`,
    /// `{"json": {"required": ["a"]}}` (or `{"json": ["a"]}`), `{"regex": "^\\d+$"}`,
    /// `"no_pii"`.
    pub fn parse(v: &Value) -> Result<Self, String> {
        let (name, arg) = match v {
            Value::String(s) => (s.as_str(), &Value::Null),
            Value::Object(m) if m.len() == 1 => {
                let (k, a) = m.iter().next().ok_or("empty validator")?;
                (k.as_str(), a)
            }
            _ => return Err("a validator is a name or an object with one key".into()),
        };
        match name {
            "non_empty" => Ok(Self::NonEmpty),
            "no_pii" => Ok(Self::NoPii),
            "max_chars" => arg
                .as_u64()
                .filter(|n| *n > 0)
                .map(|n| Self::MaxChars(n as usize))
                .ok_or_else(|| "max_chars needs a positive number".into()),
            "json" => {
                let keys = match arg {
                    Value::Null | Value::Bool(true) => &Value::Array(Vec::new()),
                    Value::Object(o) => o.get("required").unwrap_or(&Value::Null),
                    other => other,
                };
                let keys = keys
                    .as_array()
                    .ok_or("json takes {\"required\": [keys]}")?
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .map(str::to_owned)
                            .ok_or("json keys must be strings")
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Self::Json(keys))
            }
            "regex" => {
                let pat = arg.as_str().ok_or("regex needs a pattern string")?;
                regex::Regex::new(pat)
                    .map(Self::Regex)
                    .map_err(|e| format!("regex: {e}"))
            }
            other => Err(format!(
                "unknown validator '{other}' (known: non_empty, max_chars, json, regex, no_pii)"
            )),
        }
    }

    /// The failure, if `answer` fails this check.
    pub fn check(&self, answer: &str) -> Option<String> {
        match self {
            Self::NonEmpty => answer
                .trim()
                .is_empty()
                .then(|| "non_empty: the answer is empty".into()),
            Self::MaxChars(max) => {
                let n = answer.chars().count();
                (n > *max).then(|| format!("max_chars: {n} > {max}"))
            }
            Self::Json(keys) => {
                let body = strip_fence(answer);
                match serde_json::from_str::<Value>(body) {
                    Err(e) => Some(format!("json: not valid JSON ({e})")),
                    Ok(Value::Object(m)) => {
                        let missing: Vec<&str> = keys
                            .iter()
                            .filter(|k| !m.contains_key(k.as_str()))
                            .map(String::as_str)
                            .collect();
                        (!missing.is_empty())
                            .then(|| format!("json: missing key(s) {}", missing.join(", ")))
                    }
                    Ok(_) if keys.is_empty() => None,
                    Ok(_) => Some("json: not an object".into()),
                }
            }
            Self::Regex(re) => {
                (!re.is_match(answer)).then(|| format!("regex: no match for {}", re.as_str()))
            }
            Self::NoPii => {
                let n = find_ssns(answer).len();
                (n > 0).then(|| format!("no_pii: {n} SSN-shaped string(s)"))
            }
        }
    }
}

fn strip_fence(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Every failure of `answer` against `validators`.
pub fn run_all(validators: &[Validator], answer: &str) -> Vec<String> {
    validators.iter().filter_map(|v| v.check(answer)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: &Value) -> Validator {
        Validator::parse(j).unwrap()
    }

    #[test]
    fn each_validator_passes_and_fails() {
        assert_eq!(
            v(&json!("non_empty")).check("  \n"),
            Some("non_empty: the answer is empty".into())
        );
        assert_eq!(v(&json!("non_empty")).check("x"), None);
        let sms = v(&json!({"max_chars": 160}));
        assert_eq!(sms.check(&"é".repeat(160)), None);
        assert_eq!(
            sms.check(&"a".repeat(161)),
            Some("max_chars: 161 > 160".into())
        );
        let j = v(&json!({"json": {"required": ["id", "status"]}}));
        assert_eq!(j.check(r#"{"id":1,"status":"shipped"}"#), None);
        assert_eq!(j.check("```json\n{\"id\":1,\"status\":\"x\"}\n```"), None);
        assert_eq!(
            j.check(r#"{"id":1}"#),
            Some("json: missing key(s) status".into())
        );
        assert!(
            j.check("id: 1")
                .unwrap()
                .starts_with("json: not valid JSON")
        );
        assert_eq!(v(&json!("json")).check("[1,2]"), None);
        let re = v(&json!({"regex": "^\\d{4}$"}));
        assert_eq!(re.check("2026"), None);
        assert!(re.check("year 2026").is_some());
    }

    #[test]
    fn no_pii_catches_ssns_but_not_phone_numbers() {
        let p = v(&json!("no_pii"));
        assert_eq!(
            p.check("Call 555-123-4567 or (555) 123-4567 before 2026-12-01."),
            None
        );
        assert_eq!(
            p.check("SSN 123-45-6789"),
            Some("no_pii: 1 SSN-shaped string(s)".into())
        );
    }

    #[test]
    fn all_failures_are_reported() {
        let vs = [
            v(&json!("non_empty")),
            v(&json!({"max_chars": 3})),
            v(&json!("no_pii")),
        ];
        assert_eq!(run_all(&vs, "123-45-6789").len(), 2);
    }
}
