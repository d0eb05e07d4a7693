//! Reading loosely shaped JSON: first present field of several names, text of content parts.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Reject;
use crate::normalize::parse_ts;

/// The value at a dotted path (`"response.usage.prompt_tokens"`).
pub(super) fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, seg| cur.get(seg))
        .filter(|x| !x.is_null())
}

/// The first of `paths` holding a non-null value.
pub(super) fn first<'a>(v: &'a Value, paths: &[&str]) -> Option<&'a Value> {
    paths.iter().find_map(|p| at(v, p))
}

/// The first of `paths` holding a string (numbers are written out).
pub(super) fn string(v: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| match at(v, p)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The first of `paths` holding an integer (or an integral numeric string).
pub(super) fn int(v: &Value, paths: &[&str]) -> Option<i64> {
    paths.iter().find_map(|p| as_int(at(v, p)?))
}

/// An integer from a number or numeric string.
pub(super) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first of `paths` holding a number.
pub(super) fn float(v: &Value, paths: &[&str]) -> Option<f64> {
    paths.iter().find_map(|p| match at(v, p)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The first of `paths` holding a boolean.
pub(super) fn boolean(v: &Value, paths: &[&str]) -> Option<bool> {
    paths.iter().find_map(|p| at(v, p)?.as_bool())
}

/// The first of `paths` holding a parseable timestamp; `bad_timestamp` when fields are
/// present but none parses (a time in a shape not known here is not a missing one).
pub(super) fn timestamp(v: &Value, paths: &[&str]) -> Result<Option<OffsetDateTime>, Reject> {
    first_timestamp(&[(v, paths)])
}

/// [`timestamp`] over several objects, in order.
pub(super) fn first_timestamp(
    places: &[(&Value, &[&str])],
) -> Result<Option<OffsetDateTime>, Reject> {
    let mut unparsed = None;
    for (v, paths) in places {
        for p in *paths {
            let Some(raw) = at(v, p) else { continue };
            match parse_ts(raw) {
                Some(t) => return Ok(Some(t)),
                None => unparsed = unparsed.or(Some((*p, raw))),
            }
        }
    }
    match unparsed {
        Some((p, raw)) => Err(Reject::new(
            "bad_timestamp",
            format!(
                "{p} is not a known timestamp shape: {}",
                clip(&text_of(raw), 64)
            ),
        )),
        None => Ok(None),
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Tags from an array of strings (or one comma-separated string).
pub(super) fn tags(v: &Value, paths: &[&str]) -> Vec<String> {
    match first(v, paths) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The object at the first of `paths`, cloned.
pub(super) fn object(v: &Value, paths: &[&str]) -> Map<String, Value> {
    match first(v, paths) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// Any JSON value as text: strings as they are, everything else as compact JSON.
pub(super) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A latency in milliseconds: an explicit field, or the difference of start and end times.
pub(super) fn latency(v: &Value, ms_paths: &[&str], start: &[&str], end: &[&str]) -> Option<i64> {
    if let Some(ms) = float(v, ms_paths) {
        return Some(ms.round() as i64);
    }
    let (a, b) = (timestamp(v, start).ok()??, timestamp(v, end).ok()??);
    let d = (b - a).whole_milliseconds();
    (d >= 0).then(|| i64::try_from(d).unwrap_or(i64::MAX))
}

/// Inserts `key: value` into `m` when `value` is present.
pub(super) fn put(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value.filter(|v| !v.is_null()) {
        m.insert(key.to_owned(), v);
    }
}
