//! A fill proposal: a JSON object naming candidates for an opening, checked against a declared
//! shape — required fields and their types, candidates that exist in the evidence the task
//! retrieved, no more of them than asked for, none twice.
//!
//! `{"fill": {"fields": {"role": "string", "start": "string"}, "max_candidates": 3}}`; the
//! candidates are in `candidates` (or the field `candidates_field` names), each an id or an
//! object whose `id` field (or `id_field`) holds one.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// The declared shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FillRules {
    /// Required fields besides the candidates, with their JSON types.
    pub fields: Vec<(String, JsonType)>,
    /// The field holding the candidate list.
    pub candidates_field: String,
    /// In a candidate object, the field holding its id.
    pub id_field: String,
    /// At most this many candidates.
    pub max_candidates: Option<usize>,
    /// At least this many (default 1).
    pub min_candidates: usize,
}

/// A JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// A string.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
    /// A list.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "string" => Self::String,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            other => {
                return Err(format!(
                    "fill: unknown type '{other}' (string, number, integer, boolean, array, object)"
                ));
            }
        })
    }

    fn holds(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Number => v.is_number(),
            Self::Integer => v.is_i64() || v.is_u64(),
            Self::Boolean => v.is_boolean(),
            Self::Array => v.is_array(),
            Self::Object => v.is_object(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Number => "a number",
            Self::Integer => "an integer",
            Self::Boolean => "a boolean",
            Self::Array => "a list",
            Self::Object => "an object",
        }
    }
}

impl FillRules {
    /// From the task's argument (`null` for the defaults).
    pub fn parse(arg: &Value) -> Result<Self, String> {
        let empty = Map::new();
        let m = match arg {
            Value::Null | Value::Bool(true) => &empty,
            Value::Object(m) => m,
            _ => {
                return Err(
                    "fill takes an object: {\"fields\": {…}, \"max_candidates\": n}".into(),
                );
            }
        };
        for k in m.keys() {
            if ![
                "fields",
                "candidates_field",
                "id_field",
                "max_candidates",
                "min_candidates",
            ]
            .contains(&k.as_str())
            {
                return Err(format!(
                    "fill: unknown option '{k}' (fields, candidates_field, id_field, max_candidates, min_candidates)"
                ));
            }
        }
        let fields = match m.get("fields") {
            None => Vec::new(),
            Some(Value::Object(f)) => f
                .iter()
                .map(|(k, t)| {
                    let t = t.as_str().ok_or("fill: a field's type is a string")?;
                    Ok((k.clone(), JsonType::parse(t)?))
                })
                .collect::<Result<_, String>>()?,
            Some(_) => return Err("fill: fields is an object of field → type".into()),
        };
        let text = |k: &str, default: &str| match m.get(k) {
            None => Ok(default.to_owned()),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(format!("fill: {k} is a non-empty string")),
        };
        let count = |k: &str| match m.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| format!("fill: {k} is a whole number")),
        };
        let rules = Self {
            fields,
            candidates_field: text("candidates_field", "candidates")?,
            id_field: text("id_field", "id")?,
            max_candidates: count("max_candidates")?,
            min_candidates: count("min_candidates")?.unwrap_or(1),
        };
        if rules
            .max_candidates
            .is_some_and(|max| max < rules.min_candidates)
        {
            return Err("fill: max_candidates is below min_candidates".into());
        }
        Ok(rules)
    }

    /// Every way `proposal` breaks the rules, given the ids the task retrieved.
    pub fn check(&self, proposal: &Value, evidence_ids: &[String]) -> Vec<String> {
        let Value::Object(m) = proposal else {
            return vec!["the proposal is not a JSON object".into()];
        };
        let mut out = Vec::new();
        for (field, ty) in &self.fields {
            match m.get(field) {
                None | Some(Value::Null) => out.push(format!("missing field '{field}'")),
                Some(v) if !ty.holds(v) => out.push(format!("'{field}' is not {}", ty.name())),
                Some(_) => {}
            }
        }
        let list = match m.get(&self.candidates_field) {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => {
                out.push(format!("missing field '{}'", self.candidates_field));
                return out;
            }
            Some(_) => {
                out.push(format!("'{}' is not a list", self.candidates_field));
                return out;
            }
        };
        let known: HashSet<&str> = evidence_ids.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        for (i, c) in list.iter().enumerate() {
            let id = match c {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get(&self.id_field).and_then(Value::as_str),
                _ => None,
            };
            let Some(id) = id else {
                out.push(format!("candidate {i} has no '{}' string", self.id_field));
                continue;
            };
            if !known.contains(id) {
                out.push(format!("candidate '{id}' is not in the retrieved evidence"));
            }
            if !seen.insert(id) {
                out.push(format!("candidate '{id}' is named twice"));
            }
        }
        if list.len() < self.min_candidates {
            out.push(format!(
                "{} candidate(s), at least {} wanted",
                list.len(),
                self.min_candidates
            ));
        }
        if let Some(max) = self.max_candidates
            && list.len() > max
        {
            out.push(format!(
                "{} candidates, at most {max} asked for",
                list.len()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_good_proposal_passes_and_a_bad_one_lists_every_fault() {
        let rules = FillRules::parse(&json!({
            "fields": {"role": "string", "shifts": "integer"},
            "max_candidates": 2
        }))
        .unwrap();
        let evidence = ids(&["w1", "w2", "w3"]);
        let good = json!({"role": "welder", "shifts": 3, "candidates": [{"id": "w1"}, "w3"]});
        assert!(rules.check(&good, &evidence).is_empty());
        let bad = json!({"shifts": "three", "candidates": ["w1", "w9", "w1", {"name": "x"}]});
        assert_eq!(
            rules.check(&bad, &evidence),
            [
                "missing field 'role'",
                "'shifts' is not an integer",
                "candidate 'w9' is not in the retrieved evidence",
                "candidate 'w1' is named twice",
                "candidate 3 has no 'id' string",
                "4 candidates, at most 2 asked for",
            ]
        );
        assert_eq!(
            rules.check(
                &json!({"role": "x", "shifts": 1, "candidates": []}),
                &evidence
            ),
            ["0 candidate(s), at least 1 wanted"]
        );
        assert_eq!(
            rules.check(&json!([1]), &evidence),
            ["the proposal is not a JSON object"]
        );
    }

    #[test]
    fn options_are_checked() {
        let custom =
            FillRules::parse(&json!({"candidates_field": "picks", "id_field": "worker"})).unwrap();
        let p = json!({"picks": [{"worker": "w2"}]});
        assert!(custom.check(&p, &ids(&["w2"])).is_empty());
        for (arg, want) in [
            (json!({"feilds": {}}), "unknown option 'feilds'"),
            (json!({"fields": {"a": "text"}}), "unknown type 'text'"),
            (
                json!({"max_candidates": -1}),
                "max_candidates is a whole number",
            ),
            (
                json!({"max_candidates": 1, "min_candidates": 2}),
                "below min_candidates",
            ),
            (json!(7), "fill takes an object"),
        ] {
            let e = FillRules::parse(&arg).unwrap_err();
            assert!(e.contains(want), "{arg}: {e}");
        }
    }
}
