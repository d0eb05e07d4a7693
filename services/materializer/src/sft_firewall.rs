//! The contamination firewall of `export-sft`: records that must never become training data,
//! whatever the export's filter says. The sets below are pinned by a test, so changing one
//! fails the suite and goes through review.

use serde_json::{Map, Value};

/// Record kinds never exported: validation verdicts are judgements about answers, not
/// answers to learn from.
pub const NEVER_EXPORT_KINDS: &[&str] = &["validation"];

/// Directories whose logs are never exported, wherever they sit in a source's path (logs kept
/// for validation and for held-out evaluation: `raw/held_out/scored_run/…`,
/// `raw/scored_run/eval_holdout/…`).
pub const NEVER_EXPORT_SOURCES: &[&str] = &["validation", "eval_holdout", "held_out", "holdout"];

/// Tags that mark a record as held out of training (eval and replay tasks kept for testing).
pub const HELD_OUT_TAGS: &[&str] = &["held_out", "heldout", "holdout", "test_set"];

/// Values of a `split` metadata field that mark a record as held out.
pub const HELD_OUT_SPLITS: &[&str] = &["test", "held_out", "holdout", "heldout", "eval"];

/// Tags that flag a record as holding personal data.
pub const PII_TAGS: &[&str] = &["pii", "sensitive"];

/// What the firewall reads of a record.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// The raw object it came from.
    pub source_key: &'a str,
    /// Its tags.
    pub tags: &'a [String],
    /// Its metadata.
    pub metadata: &'a Map<String, Value>,
    /// SSN-shaped strings the materializer redacted from it.
    pub redactions: i64,
    /// The texts that would be exported.
    pub texts: [&'a str; 3],
}

fn flag(metadata: &Map<String, Value>, key: &str) -> bool {
    metadata.get(key).and_then(Value::as_bool) == Some(true)
}

/// Why a record is kept out, or `None` if it may be exported. The first reason that applies
/// is given, in this order.
pub fn blocked(c: &Candidate<'_>) -> Option<&'static str> {
    let has_tag = |set: &[&str]| {
        c.tags
            .iter()
            .any(|t| set.contains(&t.to_ascii_lowercase().as_str()))
    };
    if NEVER_EXPORT_KINDS.contains(&c.kind) {
        return Some("never_export_kind");
    }
    let mut dirs = c.source_key.split('/').rev().skip(1);
    if dirs.any(|d| NEVER_EXPORT_SOURCES.contains(&d)) {
        return Some("never_export_source");
    }
    let split = c
        .metadata
        .get("split")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    if has_tag(HELD_OUT_TAGS)
        || flag(c.metadata, "held_out")
        || split.is_some_and(|s| HELD_OUT_SPLITS.contains(&s.as_str()))
    {
        return Some("held_out");
    }
    if c.redactions > 0 {
        return Some("redacted");
    }
    if has_tag(PII_TAGS)
        || flag(c.metadata, "pii")
        || c.texts.iter().any(|t| {
            lakehouse_jobs::pii::contains_ssn(t) || t.contains(lakehouse_jobs::pii::REDACTED)
        })
    {
        return Some("pii");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Changing what can never be exported must change this test too, in review.
    #[test]
    fn the_never_export_sets_are_pinned() {
        assert_eq!(NEVER_EXPORT_KINDS, ["validation"]);
        assert_eq!(
            NEVER_EXPORT_SOURCES,
            ["validation", "eval_holdout", "held_out", "holdout"]
        );
        assert_eq!(
            HELD_OUT_TAGS,
            ["held_out", "heldout", "holdout", "test_set"]
        );
        assert_eq!(
            HELD_OUT_SPLITS,
            ["test", "held_out", "holdout", "heldout", "eval"]
        );
        assert_eq!(PII_TAGS, ["pii", "sensitive"]);
    }

    #[test]
    fn each_rule_blocks_and_a_clean_record_passes() {
        let empty = Map::new();
        let none: Vec<String> = Vec::new();
        let base = Candidate {
            kind: "scored_run",
            source_key: "raw/scored_run/a.jsonl",
            tags: &none,
            metadata: &empty,
            redactions: 0,
            texts: ["", "What is 2+2?", "4"],
        };
        assert_eq!(blocked(&base), None);
        let held = vec!["Held_Out".to_owned()];
        let pii = vec!["pii".to_owned()];
        let split = json!({"split": "TEST"}).as_object().unwrap().clone();
        let flagged = json!({"pii": true}).as_object().unwrap().clone();
        for (c, want) in [
            (
                Candidate {
                    kind: "validation",
                    ..base
                },
                "never_export_kind",
            ),
            (
                Candidate {
                    source_key: "raw/held_out/scored_run/x.jsonl",
                    ..base
                },
                "never_export_source",
            ),
            (
                Candidate {
                    source_key: "raw/scored_run/eval_holdout/x.jsonl",
                    ..base
                },
                "never_export_source",
            ),
            (
                Candidate {
                    tags: &held,
                    ..base
                },
                "held_out",
            ),
            (
                Candidate {
                    metadata: &split,
                    ..base
                },
                "held_out",
            ),
            (
                Candidate {
                    redactions: 1,
                    ..base
                },
                "redacted",
            ),
            (Candidate { tags: &pii, ..base }, "pii"),
            (
                Candidate {
                    metadata: &flagged,
                    ..base
                },
                "pii",
            ),
            (
                Candidate {
                    texts: ["", "SSN 123-45-6789", "ok"],
                    ..base
                },
                "pii",
            ),
            (
                Candidate {
                    texts: ["", "x", "[REDACTED-SSN]"],
                    ..base
                },
                "pii",
            ),
        ] {
            assert_eq!(blocked(&c), Some(want), "{c:?}");
        }
        // A file named like a directory of the set is not in it.
        assert_eq!(
            blocked(&Candidate {
                source_key: "raw/scored_run/holdout",
                ..base
            }),
            None
        );
        // A phone number is not personal data enough to block.
        assert_eq!(
            blocked(&Candidate {
                texts: ["", "call 555-123-4567", "ok"],
                ..base
            }),
            None
        );
    }
}
