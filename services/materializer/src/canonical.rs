//! Canonical JSON and evidence ids. A record's id depends on its content only — not on key
//! order, whitespace or number spelling in the log line, nor on which file or line held it —
//! so the same record materialized twice is recognised as a duplicate.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `v` as compact JSON with object keys sorted at every level.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Number(n) => {
            // 1.0 and 1 are the same number to every JSON reader.
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => out.push_str(&i.to_string()),
                (_, Some(u), _) => out.push_str(&u.to_string()),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    out.push_str(&(f as i64).to_string());
                }
                _ => out.push_str(&n.to_string()),
            }
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The evidence id of `record` (of `kind`): the first 128 bits of
/// `sha256("evidence_record.v1\n" + kind + "\n" + canonical JSON)`, as 32 hex digits.
pub fn evidence_id(kind: &str, record: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"evidence_record.v1\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(canonical_json(record).as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// An id's 16 bytes, for compact sets.
pub fn id_bytes(id: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(id, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_spacing_and_number_spelling_do_not_change_the_id() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{ "a": {"x": "s", "y": [1.0, 2]}, "b": 1 }"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
        assert_eq!(evidence_id("k", &a), evidence_id("k", &b));
        assert_ne!(evidence_id("k", &a), evidence_id("other", &a));
        assert_ne!(evidence_id("k", &a), evidence_id("k", &json!({"b": 2})));
        assert_eq!(evidence_id("k", &a).len(), 32);
        assert!(id_bytes(&evidence_id("k", &a)).is_some());
    }
}
