//! The record parsers on hostile lines: for every kind, mutated lines of its fixtures are
//! transformed and normalised into rows or rejected with a reason; never a panic or a hang.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_materializer::normalize::{Origin, finish};
use lakehouse_materializer::transforms::{REGISTRY, Transform};

fn seeds(kind: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/fixtures/{kind}.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn exercise(t: &dyn Transform, b: &[u8]) {
    let Ok(line) = serde_json::from_slice::<serde_json::Value>(b) else {
        return;
    };
    if let Ok(drafts) = t.apply(&line) {
        for d in drafts {
            let origin = Origin {
                kind: t.kind(),
                source_key: "raw/fuzz.jsonl",
                line: 1,
                run: "fuzz",
            };
            let _ = finish(origin, &line, d);
        }
    }
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
