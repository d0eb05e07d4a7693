//! OTLP's JSON values as the exporters really write them: the OTLP/JSON encoding (hex ids,
//! integers as decimal strings), the protobuf JSON mapping (base64 ids, enum names), and
//! objects decoded by protobufjs (ids as `{"type":"Buffer","data":[…]}`, 64-bit integers as
//! `{"low","high","unsigned"}`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::normalize::parse_ts;
use crate::transforms::util::as_int;

/// A 64-bit integer: a number, a decimal string, or a protobufjs Long.
pub(super) fn int64(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) => {
            let low = m.get("low")?.as_i64()?;
            let high = m.get("high")?.as_i64()?;
            // Two's-complement halves: the low word is unsigned whatever its JSON sign.
            Some((((high as u64) << 32) | (low as u64 & 0xffff_ffff)) as i64)
        }
        other => as_int(other),
    }
}

/// A span time (`startTimeUnixNano`) in any of the encodings.
pub(super) fn time(v: &Value) -> Option<OffsetDateTime> {
    match v {
        Value::Object(_) => {
            let nanos = int64(v)?;
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
        }
        other => parse_ts(other),
    }
}

/// A trace or span id as lowercase hex: from hex, base64 (the protobuf JSON mapping) or a
/// protobufjs Buffer. `None` for an empty or unreadable id.
pub(super) fn id(v: &Value) -> Option<String> {
    let bytes = match v {
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) if is_hex_id(s) => return Some(s.to_ascii_lowercase()),
        Value::String(s) => STANDARD.decode(s).ok()?,
        Value::Object(m) => m
            .get("data")?
            .as_array()?
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()?,
        _ => return None,
    };
    (bytes.len() == 16 || bytes.len() == 8).then(|| hex::encode(bytes))
}

fn is_hex_id(s: &str) -> bool {
    (s.len() == 32 || s.len() == 16) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An OTLP `AnyValue` as plain JSON.
pub(super) fn any_value(v: &Value) -> Value {
    let Some(m) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = m.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = m.get("intValue") {
        return int64(i).map_or_else(|| i.clone(), Value::from);
    }
    if let Some(d) = m.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = m.get("boolValue") {
        return b.clone();
    }
    if let Some(a) = m.get("arrayValue") {
        let vals = a.get("values").and_then(Value::as_array);
        return Value::Array(vals.into_iter().flatten().map(any_value).collect());
    }
    if let Some(kv) = m.get("kvlistValue") {
        return Value::Object(attributes(kv.get("values")));
    }
    Value::Null
}

/// An OTLP attribute list (`[{key, value}]`) as a map.
pub(super) fn attributes(list: Option<&Value>) -> Map<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let k = kv.get("key")?.as_str()?;
            Some((
                k.to_owned(),
                kv.get("value").map(any_value).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// Whether a span's status says it failed (code 2, or its enum name).
pub(super) fn failed(span: &Value) -> bool {
    match span.get("status").and_then(|st| st.get("code")) {
        Some(Value::String(s)) => s == "STATUS_CODE_ERROR" || s == "2",
        Some(code) => int64(code) == Some(2),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_in_every_encoding_become_the_same_hex() {
        let hex = "ea673708441c2984a54a3e3962d3595f";
        let buffer = json!({"type": "Buffer", "data": [234, 103, 55, 8, 68, 28, 41, 132, 165, 74, 62, 57, 98, 211, 89, 95]});
        assert_eq!(id(&json!(hex)).as_deref(), Some(hex));
        assert_eq!(id(&json!(hex.to_uppercase())).as_deref(), Some(hex));
        assert_eq!(id(&buffer).as_deref(), Some(hex));
        assert_eq!(id(&json!("6mc3CEQcKYSlSj45YtNZXw==")).as_deref(), Some(hex));
        assert_eq!(
            id(&json!("uQS/+yC+bX4=")).as_deref(),
            Some("b904bffb20be6d7e")
        );
        assert_eq!(id(&json!("")), None);
        assert_eq!(id(&json!("not an id")), None);
    }

    #[test]
    fn protobufjs_longs_are_64_bit_integers() {
        let start = json!({"low": 153_687_506, "high": 404_677_085, "unsigned": true});
        assert_eq!(int64(&start), Some(1_738_074_845_669_299_666));
        assert_eq!(
            int64(&json!({"low": -1, "high": -1, "unsigned": false})),
            Some(-1)
        );
        assert_eq!(int64(&json!({"low": 14, "high": 0})), Some(14));
        assert_eq!(
            time(&start).map(|t| t.unix_timestamp()),
            Some(1_738_074_845)
        );
        assert_eq!(
            any_value(&json!({"intValue": {"low": 96, "high": 0}})),
            json!(96)
        );
    }

    #[test]
    fn status_codes_as_numbers_or_names() {
        assert!(failed(&json!({"status": {"code": 2}})));
        assert!(failed(&json!({"status": {"code": "STATUS_CODE_ERROR"}})));
        assert!(!failed(&json!({"status": {"code": "STATUS_CODE_OK"}})));
        assert!(!failed(&json!({"status": {}})));
    }
}
