//! Storage keys, manifests and their validators on hostile bytes: a key is accepted only
//! when every rule holds, a manifest decodes or is refused, and no validator panics.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_types::key::{MAX_KEY_BYTES, MAX_SEGMENT_BYTES};
use lakehouse_types::{
    Manifest, ObjectKey, canonical_column_type, column_type_error, data_key_error,
    dataset_name_error,
};

#[test]
fn keys_are_accepted_only_when_every_rule_holds() {
    let seeds: Vec<Vec<u8>> = [
        "datasets/x/a.parquet",
        "a/../b",
        "_catalog/m/x.json",
        "é/日本/x y",
        "a//b",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    lakehouse_fuzz::run("key", &seeds, Duration::from_secs(1), |b| {
        let Ok(s) = std::str::from_utf8(b) else {
            return;
        };
        if let Ok(k) = ObjectKey::parse(s) {
            assert!(!k.as_str().is_empty() && k.as_str().len() <= MAX_KEY_BYTES);
            assert!(!k.as_str().starts_with('/'));
            assert!(!k.as_str().chars().any(char::is_control));
            for seg in k.segments() {
                assert!(!seg.is_empty() && seg != "." && seg != "..", "{s:?}");
                assert!(seg.len() <= MAX_SEGMENT_BYTES);
            }
        }
        let _ = data_key_error("sales", s);
        let _ = dataset_name_error(s);
        if let Some(t) = canonical_column_type(s) {
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_uppercase() || " []".contains(c)),
                "{t}"
            );
        }
    });
}

#[test]
fn manifests_decode_or_are_refused() {
    let m = r#"{"name":"sales","schema_fingerprint":"ab","schema":[{"name":"id","type":"BIGINT","nullable":false}],
        "objects":[{"key":"datasets/sales/a.parquet","size":10,"row_count":2}],"row_count":2,"version":3,
        "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;
    lakehouse_fuzz::run(
        "manifest",
        &[m.as_bytes().to_vec()],
        Duration::from_secs(1),
        |b| {
            if let Ok(m) = serde_json::from_slice::<Manifest>(b) {
                for c in &m.schema {
                    let _ = column_type_error(&c.ty);
                }
                for o in &m.objects {
                    let _ = data_key_error(&m.name, &o.key);
                }
            }
        },
    );
}
