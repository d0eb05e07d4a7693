//! Real-world log lines (public SDK test recordings, exporter tests, provider documentation;
//! provenance in `tests/realogs/README.md`) through the same transform and normalisation a
//! run uses, checked against `tests/realogs/expected.toml`: every line gives the expected
//! rows (model, UTC time, ids, tokens, outcome, the texts in order, what must never appear)
//! or the expected rejection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use lakehouse_materializer::normalize::{Origin, rows_of};
use lakehouse_materializer::record::Evidence;
use lakehouse_materializer::transforms::lookup;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    line: Vec<LineExpectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineExpectation {
    file: String,
    line: usize,
    verdict: String,
    reason: Option<String>,
    #[allow(dead_code)]
    note: Option<String>,
    #[serde(default)]
    row: Vec<RowExpectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowExpectation {
    model: Option<String>,
    ts: String,
    run_id: Option<String>,
    task: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    estimated: bool,
    latency_ms: Option<i64>,
    outcome: Option<String>,
    #[serde(default)]
    prompt_contains: Vec<String>,
    #[serde(default)]
    response_contains: Vec<String>,
    #[serde(default)]
    prompt_empty: bool,
    #[serde(default)]
    response_empty: bool,
    #[serde(default)]
    not_contains: Vec<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/realogs")
}

fn expectations() -> Expected {
    let text = std::fs::read_to_string(dir().join("expected.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// Every `fragments` in `text`, in order; the first one missing, otherwise.
fn in_order<'a>(text: &str, fragments: &'a [String]) -> Result<(), &'a str> {
    let mut rest = text;
    for f in fragments {
        match rest.find(f.as_str()) {
            Some(i) => rest = &rest[i + f.len()..],
            None => return Err(f),
        }
    }
    Ok(())
}

/// What is wrong with `row` against `want`, one message per mismatch.
fn mismatches(row: &Evidence, want: &RowExpectation) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, ok: bool, got: String| {
        if !ok {
            out.push(format!("{what}: got {got}"));
        }
    };
    // The column holds microseconds.
    let ts = OffsetDateTime::parse(&want.ts, &Rfc3339).unwrap();
    let micros = |t: OffsetDateTime| t.unix_timestamp_nanos() / 1000;
    check("ts", micros(row.ts) == micros(ts), row.ts.to_string());
    check("model", row.model == want.model, format!("{:?}", row.model));
    if want.run_id.is_some() {
        check(
            "run_id",
            row.run_id == want.run_id,
            format!("{:?}", row.run_id),
        );
    }
    if want.task.is_some() {
        check("task", row.task == want.task, format!("{:?}", row.task));
    }
    check(
        "tokens_estimated",
        row.tokens_estimated == want.estimated,
        row.tokens_estimated.to_string(),
    );
    if let Some(n) = want.prompt_tokens {
        check(
            "prompt_tokens",
            row.prompt_tokens == n,
            row.prompt_tokens.to_string(),
        );
    }
    if let Some(n) = want.completion_tokens {
        check(
            "completion_tokens",
            row.completion_tokens == n,
            row.completion_tokens.to_string(),
        );
    }
    if let Some(ms) = want.latency_ms {
        // Sources give fractions of a millisecond; the column holds whole ones.
        let ok = row.latency_ms.is_some_and(|l| (l - ms).abs() <= 1);
        check("latency_ms", ok, format!("{:?}", row.latency_ms));
    }
    check(
        "outcome",
        row.outcome == want.outcome,
        format!("{:?}", row.outcome),
    );
    if let Err(f) = in_order(&row.prompt, &want.prompt_contains) {
        check(
            &format!("prompt lacks {f:?}"),
            false,
            format!("{:?}", row.prompt),
        );
    }
    if let Err(f) = in_order(&row.response, &want.response_contains) {
        check(
            &format!("response lacks {f:?}"),
            false,
            format!("{:?}", row.response),
        );
    }
    if want.prompt_empty {
        check(
            "prompt empty",
            row.prompt.is_empty(),
            format!("{:?}", row.prompt),
        );
    }
    if want.response_empty {
        check(
            "response empty",
            row.response.is_empty(),
            format!("{:?}", row.response),
        );
    }
    for bad in &want.not_contains {
        let hit = row.prompt.contains(bad.as_str()) || row.response.contains(bad.as_str());
        check(&format!("contains {bad:?}"), !hit, String::from("it"));
    }
    check(
        "redactions",
        row.redactions == 0,
        row.redactions.to_string(),
    );
    out
}

/// The outcome of one expected line: the problems found.
fn check_line(want: &LineExpectation) -> Vec<String> {
    let kind = want.file.split('/').next().unwrap();
    let transform = lookup(kind).unwrap_or_else(|| panic!("no transform for {kind}"));
    let text = std::fs::read_to_string(dir().join("raw").join(&want.file)).unwrap();
    let raw = text.lines().nth(want.line - 1).unwrap();
    let value: serde_json::Value = serde_json::from_str(raw).unwrap();
    let origin = Origin {
        kind,
        source_key: &want.file,
        line: want.line as i64,
        run: "realogs",
    };
    match (rows_of(transform, origin, &value), want.verdict.as_str()) {
        (Ok(rows), "accept") if rows.len() != want.row.len() => {
            vec![format!("{} rows, want {}", rows.len(), want.row.len())]
        }
        (Ok(rows), "accept") => rows
            .iter()
            .zip(&want.row)
            .enumerate()
            .flat_map(|(i, (r, w))| {
                mismatches(r, w)
                    .into_iter()
                    .map(move |m| format!("row {i}: {m}"))
            })
            .collect(),
        (Ok(rows), _) => vec![format!("accepted ({} rows), want a rejection", rows.len())],
        (Err(r), "reject") if Some(r.reason) == want.reason.as_deref() => Vec::new(),
        (Err(r), _) => vec![format!(
            "rejected {} ({}), want {}",
            r.reason, r.detail, want.verdict
        )],
    }
}

#[test]
fn every_real_world_line_gives_the_expected_evidence_or_rejection() {
    let all = expectations();
    let mut failures = Vec::new();
    for want in &all.line {
        for problem in check_line(want) {
            failures.push(format!("{}:{}: {problem}", want.file, want.line));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_expectations_cover_every_line() {
    let all = expectations();
    let mut lines = 0;
    for kind in ["anthropic_messages", "openai_chat", "otel_genai"] {
        for entry in std::fs::read_dir(dir().join("raw").join(kind)).unwrap() {
            let path = entry.unwrap().path();
            let file = format!("{kind}/{}", path.file_name().unwrap().to_str().unwrap());
            let n = std::fs::read_to_string(&path).unwrap().lines().count();
            lines += n;
            for i in 1..=n {
                assert!(
                    all.line.iter().any(|l| l.file == file && l.line == i),
                    "{file}:{i} has no expectation"
                );
            }
        }
    }
    assert_eq!(all.line.len(), lines);
    assert_eq!(lines, 64);
}

#[test]
fn the_same_call_in_two_encodings_gives_the_same_row_but_its_own_id() {
    // Lines 10 and 11: one streamed call, once as the raw event stream, once assembled.
    let file = "anthropic_messages/openllmetry-anthropic-cassettes.jsonl";
    let text = std::fs::read_to_string(dir().join("raw").join(file)).unwrap();
    let row = |n: usize| {
        let v: serde_json::Value = serde_json::from_str(text.lines().nth(n - 1).unwrap()).unwrap();
        let origin = Origin {
            kind: "anthropic_messages",
            source_key: file,
            line: n as i64,
            run: "realogs",
        };
        rows_of(lookup("anthropic_messages").unwrap(), origin, &v)
            .unwrap()
            .remove(0)
    };
    let (sse, assembled) = (row(10), row(11));
    assert_eq!(sse.response, assembled.response);
    assert_eq!(sse.prompt, assembled.prompt);
    assert_eq!(
        (sse.prompt_tokens, sse.completion_tokens, &sse.outcome),
        (
            assembled.prompt_tokens,
            assembled.completion_tokens,
            &assembled.outcome
        )
    );
    assert_ne!(sse.evidence_id, assembled.evidence_id);
}
