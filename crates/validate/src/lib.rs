//! Checks on a model's answer, configured per task and reporting every failure with its
//! reason: `non_empty`, `max_chars`, `json`, `regex`, `no_pii`, and the domain checks the
//! distillation loop drafts against — `email`, `sms`, `fill` (a proposal naming candidates
//! from the retrieved evidence) and `json_schema` (any JSON Schema, draft 2020-12 unless the
//! schema names another). No HTTP here: replay, the load test and the CLI use it alike.
//!
//! Layout: [`pii`] finds SSN-shaped strings; [`sms`] counts as carriers do; [`email`] reads
//! drafts; [`fill`] checks proposals; this file parses a task's validators and runs them.

pub mod email;
pub mod fill;
pub mod pii;
pub mod sms;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use fill::FillRules;

/// What a check may need beyond the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Ids of the evidence the task retrieved (a fill proposal may name only these).
    pub evidence_ids: &'a [String],
}

/// Bounds and requirements of an email draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRules {
    /// The body has at least this many characters.
    pub min_body: usize,
    /// And at most this many.
    pub max_body: usize,
    /// At least one recipient must be named.
    pub require_recipients: bool,
}

/// A compiled JSON Schema and the schema it came from.
#[derive(Clone)]
pub struct Schema {
    source: Value,
    compiled: Arc<(boon::Schemas, boon::SchemaIndex)>,
}

/// Where a task's schema is registered: it is never fetched, and neither is anything else.
const SCHEMA_URL: &str = "file:///task-schema.json";

/// Refuses every `$ref` outside the task's own schema: a schema must not read local files
/// or reach the network.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url}: a schema may refer only to itself").into())
    }
}

impl Schema {
    fn compile(source: &Value) -> Result<Self, String> {
        let mut schemas = boon::Schemas::new();
        let mut c = boon::Compiler::new();
        c.set_default_draft(boon::Draft::V2020_12);
        c.use_loader(Box::new(NoLoader));
        c.add_resource(SCHEMA_URL, source.clone())
            .map_err(|e| format!("{e:#}"))?;
        let index = c
            .compile(SCHEMA_URL, &mut schemas)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Self {
            source: source.clone(),
            compiled: Arc::new((schemas, index)),
        })
    }

    /// Each violation, `at <location>: <what>`.
    fn violations(&self, v: &Value) -> Vec<String> {
        let (schemas, index) = &*self.compiled;
        let Err(e) = schemas.validate(v, *index) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stack = vec![&e];
        while let Some(e) = stack.pop() {
            if e.causes.is_empty() {
                let at = e.instance_location.to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                out.push(format!("at {at}: {}", e.kind));
            }
            stack.extend(e.causes.iter().rev());
        }
        out
    }
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Schema").field(&self.source).finish()
    }
}

/// One check.
#[derive(Debug, Clone)]
pub enum Validator {
    /// The answer has non-whitespace text.
    NonEmpty,
    /// At most this many characters.
    MaxChars(usize),
    /// Parses as a JSON object holding these keys (a ```json fence around it is allowed).
    Json(Vec<String>),
    /// Matches this regular expression somewhere (anchor it for a whole match).
    Regex(regex::Regex),
    /// Holds no SSN-shaped string (phone numbers, dates, ZIP+4 codes and order numbers pass).
    NoPii,
    /// An email draft: subject and body, body length, no unfilled placeholders, well-formed
    /// recipients, no PII.
    Email(EmailRules),
    /// Fits in this many SMS parts as carriers count (GSM-7 or UCS-2), no PII.
    Sms(usize),
    /// A fill proposal against a declared shape.
    Fill(FillRules),
    /// Valid against a JSON Schema.
    JsonSchema(Schema),
}

const KNOWN: &str = "non_empty, max_chars, json, regex, no_pii, email, sms, fill, json_schema";

fn options<'a>(
    name: &str,
    arg: &'a Value,
    allowed: &[&str],
) -> Result<Option<&'a Map<String, Value>>, String> {
    let m = match arg {
        Value::Null | Value::Bool(true) => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(format!("{name} takes an object of options")),
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "{name}: unknown option '{k}' (known: {})",
            allowed.join(", ")
        ));
    }
    Ok(Some(m))
}

fn count(
    m: Option<&Map<String, Value>>,
    name: &str,
    k: &str,
    default: usize,
) -> Result<usize, String> {
    match m.and_then(|m| m.get(k)) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("{name}: {k} is a whole number")),
    }
}

impl Validator {
    /// From a task's JSON: a name (`"non_empty"`, `"no_pii"`, `"email"`, `"sms"`, `"json"`,
    /// `"fill"`) or an object with one key and its argument: `{"max_chars": 160}`,
    /// `{"json": {"required": ["a"]}}`, `{"regex": "^\\d+$"}`, `{"email": {"min_body": 20,
    /// "max_body": 2000, "require_recipients": true}}`, `{"sms": {"parts": 2}}`,
    /// `{"fill": {"fields": {…}, "max_candidates": 3}}`, `{"json_schema": {…schema…}}`.
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
            "email" => {
                let m = options(name, arg, &["min_body", "max_body", "require_recipients"])?;
                let rules = EmailRules {
                    min_body: count(m, name, "min_body", 20)?,
                    max_body: count(m, name, "max_body", 5_000)?,
                    require_recipients: match m.and_then(|m| m.get("require_recipients")) {
                        None => false,
                        Some(v) => v
                            .as_bool()
                            .ok_or("email: require_recipients is true or false")?,
                    },
                };
                if rules.max_body < rules.min_body {
                    return Err("email: max_body is below min_body".into());
                }
                Ok(Self::Email(rules))
            }
            "sms" => {
                let m = options(name, arg, &["parts"])?;
                match count(m, name, "parts", 1)? {
                    0 => Err("sms: parts is at least 1".into()),
                    n => Ok(Self::Sms(n)),
                }
            }
            "fill" => FillRules::parse(arg).map(Self::Fill),
            "json_schema" => {
                if !(arg.is_object() || arg.is_boolean()) {
                    return Err("json_schema takes a schema (an object)".into());
                }
                Schema::compile(arg)
                    .map(Self::JsonSchema)
                    .map_err(|e| format!("json_schema: the schema is not valid: {e}"))
            }
            other => Err(format!("unknown validator '{other}' (known: {KNOWN})")),
        }
    }

    /// Its name, as tasks write it and failures begin.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NonEmpty => "non_empty",
            Self::MaxChars(_) => "max_chars",
            Self::Json(_) => "json",
            Self::Regex(_) => "regex",
            Self::NoPii => "no_pii",
            Self::Email(_) => "email",
            Self::Sms(_) => "sms",
            Self::Fill(_) => "fill",
            Self::JsonSchema(_) => "json_schema",
        }
    }

    /// Every way `answer` fails this check, each a sentence starting with its name.
    pub fn check(&self, answer: &str, ctx: &Context<'_>) -> Vec<String> {
        self.reasons(answer, ctx)
            .into_iter()
            .map(|r| format!("{}: {r}", self.name()))
            .collect()
    }

    fn reasons(&self, answer: &str, ctx: &Context<'_>) -> Vec<String> {
        match self {
            Self::NonEmpty => answer
                .trim()
                .is_empty()
                .then(|| "the answer is empty".into())
                .into_iter()
                .collect(),
            Self::MaxChars(max) => {
                let n = answer.chars().count();
                (n > *max)
                    .then(|| format!("{n} > {max}"))
                    .into_iter()
                    .collect()
            }
            Self::Json(keys) => match serde_json::from_str::<Value>(strip_fence(answer)) {
                Err(e) => vec![format!("not valid JSON ({e})")],
                Ok(Value::Object(m)) => {
                    let missing: Vec<&str> = keys
                        .iter()
                        .filter(|k| !m.contains_key(k.as_str()))
                        .map(String::as_str)
                        .collect();
                    (!missing.is_empty())
                        .then(|| format!("missing key(s) {}", missing.join(", ")))
                        .into_iter()
                        .collect()
                }
                Ok(_) if keys.is_empty() => Vec::new(),
                Ok(_) => vec!["not an object".into()],
            },
            Self::Regex(re) => (!re.is_match(answer))
                .then(|| format!("no match for {}", re.as_str()))
                .into_iter()
                .collect(),
            Self::NoPii => pii_reason(answer).into_iter().collect(),
            Self::Email(rules) => email_reasons(rules, answer),
            Self::Sms(parts) => sms::check_length(answer, *parts)
                .into_iter()
                .chain(pii_reason(answer))
                .collect(),
            Self::Fill(rules) => match serde_json::from_str::<Value>(strip_fence(answer)) {
                Err(e) => vec![format!("not valid JSON ({e})")],
                Ok(v) => rules.check(&v, ctx.evidence_ids),
            },
            Self::JsonSchema(schema) => match serde_json::from_str::<Value>(strip_fence(answer)) {
                Err(e) => vec![format!("not valid JSON ({e})")],
                Ok(v) => schema.violations(&v),
            },
        }
    }
}

fn pii_reason(text: &str) -> Option<String> {
    let n = pii::find_ssns(text).len();
    (n > 0).then(|| format!("{n} SSN-shaped string(s)"))
}

fn email_reasons(rules: &EmailRules, answer: &str) -> Vec<String> {
    let draft = match email::parse(answer) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    if draft.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
        out.push("no subject".to_owned());
    }
    let body = draft.body.as_deref().unwrap_or("");
    let n = body.chars().count();
    if body.trim().is_empty() {
        out.push("no body".to_owned());
    } else if n < rules.min_body {
        out.push(format!(
            "the body has {n} characters, at least {} wanted",
            rules.min_body
        ));
    } else if n > rules.max_body {
        out.push(format!(
            "the body has {n} characters, at most {} allowed",
            rules.max_body
        ));
    }
    let text = format!("{}\n{body}", draft.subject.as_deref().unwrap_or(""));
    let slots = email::placeholders(&text);
    if !slots.is_empty() {
        out.push(format!("unfilled placeholder(s) {}", slots.join(", ")));
    }
    if rules.require_recipients && draft.to.is_empty() {
        out.push("no recipient".to_owned());
    }
    for r in draft.to.iter().filter(|r| !email::well_formed_recipient(r)) {
        out.push(format!("recipient '{r}' is not an address"));
    }
    out.extend(pii_reason(&text));
    out
}

/// The text inside a ```json fence, or the text itself.
pub(crate) fn strip_fence(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Every failure of `answer` against `validators`, in their order.
pub fn run_all(validators: &[Validator], answer: &str, ctx: &Context<'_>) -> Vec<String> {
    validators
        .iter()
        .flat_map(|v| v.check(answer, ctx))
        .collect()
}

#[cfg(test)]
mod tests;
