//! Replay tasks: one JSON object per line of a `--tasks` file, or one from `--prompt`.
//! `{"id", "prompt", "validators"?, "k"?, "model"?, "system"?, "max_tokens"?}`; unknown
//! fields are refused so a typo (`"validator"`) cannot silently drop a check.

use serde::Deserialize;
use serde_json::Value;

use lakehouse_validate::Validator;

/// One task.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its id (unique in the file).
    pub id: String,
    /// The task text.
    pub prompt: String,
    /// Checks on the answer.
    pub validators: Vec<Validator>,
    /// Evidence to retrieve (default from the command line or config).
    pub k: Option<usize>,
    /// Model (default `[chat] model`).
    pub model: Option<String>,
    /// System prompt (default `[replay] system_prompt`).
    pub system: Option<String>,
    /// Completion tokens (default `[replay] max_tokens`).
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: Value,
    prompt: String,
    #[serde(default)]
    validators: Vec<Value>,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, alias = "system_prompt")]
    system: Option<String>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

fn parse(line: &str) -> Result<Task, String> {
    let raw: Raw = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let id = match raw.id {
        Value::String(s) if !s.trim().is_empty() => s,
        Value::Number(n) => n.to_string(),
        _ => return Err("id must be a non-empty string or a number".into()),
    };
    if raw.prompt.trim().is_empty() {
        return Err("prompt is empty".into());
    }
    if let Some(k) = raw.k
        && !(1..=1000).contains(&k)
    {
        return Err(format!("k must be 1..=1000, not {k}"));
    }
    if raw.max_tokens == Some(0) {
        return Err("max_tokens must be greater than 0".into());
    }
    let validators = raw
        .validators
        .iter()
        .enumerate()
        .map(|(i, v)| Validator::parse(v).map_err(|e| format!("validators[{i}]: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(Task {
        id,
        prompt: raw.prompt,
        validators,
        k: raw.k,
        model: raw.model,
        system: raw.system,
        max_tokens: raw.max_tokens,
    })
}

/// Every task in a JSON-lines text; all or nothing, errors naming the line.
pub fn parse_file(text: &str) -> Result<Vec<Task>, String> {
    let mut tasks: Vec<Task> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t = parse(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if tasks.iter().any(|o| o.id == t.id) {
            return Err(format!("line {}: task id '{}' is used twice", i + 1, t.id));
        }
        tasks.push(t);
    }
    if tasks.is_empty() {
        return Err("the file holds no tasks".into());
    }
    Ok(tasks)
}

/// The task of `--prompt`.
pub fn from_prompt(prompt: &str, validators: Vec<Validator>) -> Result<Task, String> {
    if prompt.trim().is_empty() {
        return Err("--prompt is empty".into());
    }
    Ok(Task {
        id: "prompt".into(),
        prompt: prompt.to_owned(),
        validators,
        k: None,
        model: None,
        system: None,
        max_tokens: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_parse_with_their_validators() {
        let text = r#"
{"id":"sms","prompt":"Write an SMS","validators":["non_empty",{"max_chars":160},"no_pii"],"k":3}
{"id":7,"prompt":"Order as JSON","validators":[{"json":{"required":["id","status"]}},{"regex":"\\d+"}],"system_prompt":"Be terse."}
"#;
        let t = parse_file(text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].validators.len(), 3);
        assert_eq!(t[0].k, Some(3));
        assert_eq!(t[1].id, "7");
        assert_eq!(t[1].system.as_deref(), Some("Be terse."));
    }

    #[test]
    fn bad_tasks_are_refused_with_their_line() {
        for (text, want) in [
            (r#"{"id":"a"}"#, "line 1: missing field `prompt`"),
            (
                r#"{"id":"a","prompt":"p","validator":["non_empty"]}"#,
                "line 1: unknown field `validator`",
            ),
            (
                "{\"id\":\"a\",\"prompt\":\"p\"}\n{\"id\":\"a\",\"prompt\":\"q\"}",
                "line 2: task id 'a' is used twice",
            ),
            (
                r#"{"id":"a","prompt":"p","validators":["sparkles"]}"#,
                "line 1: validators[0]: unknown validator 'sparkles'",
            ),
            (
                r#"{"id":"a","prompt":"p","validators":[{"regex":"("}]}"#,
                "line 1: validators[0]: regex",
            ),
            (r#"{"id":"","prompt":"p"}"#, "line 1: id must be"),
            (r#"{"id":"a","prompt":"p","k":0}"#, "line 1: k must be"),
            ("\n\n", "no tasks"),
        ] {
            let e = parse_file(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
