//! The record parsers on hostile lines: for every kind, mutated lines of its fixtures are
//! transformed and normalised into rows or rejected with a reason; never a panic or a hang.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_materializer::normalize::{Origin, rows_of};
use lakehouse_materializer::transforms::{REGISTRY, Transform};

/// The kind's fixtures, and the real-world lines of that kind under `tests/realogs/raw/`.
fn seeds(kind: &str) -> Vec<Vec<u8>> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut files = vec![std::path::PathBuf::from(format!(
        "{dir}/fixtures/{kind}.jsonl"
    ))];
    if let Ok(entries) = std::fs::read_dir(format!("{dir}/tests/realogs/raw/{kind}")) {
        files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.trim().is_empty())
        .map(String::into_bytes)
        .collect()
}

fn exercise(t: &dyn Transform, b: &[u8]) {
    let Ok(line) = serde_json::from_slice::<serde_json::Value>(b) else {
        return;
    };
    let origin = Origin {
        kind: t.kind(),
        source_key: "raw/fuzz.jsonl",
        line: 1,
        run: "fuzz",
    };
    let _ = rows_of(t, origin, &line);
}

#[test]
fn hostile_lines_become_rows_or_rejections() {
    for t in REGISTRY {
        let s = seeds(t.kind());
        assert!(!s.is_empty(), "no fixtures for {}", t.kind());
        lakehouse_fuzz::run(
            &format!("record-{}", t.kind()),
            &s,
            Duration::from_secs(1),
            |b| {
                exercise(*t, b);
            },
        );
    }
}
