//! From a transform's draft to an evidence row: timestamps to UTC, whitespace normalised,
//! SSN-shaped strings redacted (and counted), token counts reported or estimated.

use lakehouse_jobs::pii::redact_ssns;
use lakehouse_jobs::text::{estimate_tokens, normalize_whitespace};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::canonical::evidence_id;
use crate::record::Evidence;
use crate::transforms::{Draft, Reject, Transform};

/// Where a draft came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Record kind.
    pub kind: &'a str,
    /// Raw file.
    pub source_key: &'a str,
    /// 1-based line.
    pub line: i64,
    /// This materializer run.
    pub run: &'a str,
}

/// A timestamp in any of the logged shapes, as UTC:
/// - RFC 3339 with any offset (`2026-11-21T10:15:02.5+01:00`);
/// - the same without offset, or with a space for `T` (taken as UTC);
/// - an HTTP date (`Tue, 31 Mar 2026 13:28:41 GMT`) or ISO 8601's basic form (`20250812T130741Z`);
/// - a number or numeric string of seconds, milliseconds, microseconds or nanoseconds since
///   the epoch, told apart by magnitude (OpenAI's `created`, OTLP's `startTimeUnixNano`).
pub fn parse_ts(v: &Value) -> Option<OffsetDateTime> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| from_epoch(n.as_f64()?), from_epoch_int),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return from_epoch_int(i);
            }
            if let Ok(f) = s.parse::<f64>() {
                return from_epoch(f);
            }
            parse_text(s)
        }
        _ => None,
    }
}

/// Nanoseconds per unit of an epoch count of this magnitude: seconds, milliseconds,
/// microseconds or nanoseconds.
fn nanos_per_unit(x: f64) -> i64 {
    match x {
        x if x < 1e11 => 1_000_000_000,
        x if x < 1e14 => 1_000_000,
        x if x < 1e17 => 1_000,
        _ => 1,
    }
}

/// An integral epoch count, exactly (nanoseconds do not fit a float's 53 bits).
fn from_epoch_int(x: i64) -> Option<OffsetDateTime> {
    if x <= 0 {
        return None;
    }
    let nanos = i128::from(x) * i128::from(nanos_per_unit(x as f64));
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

fn from_epoch(x: f64) -> Option<OffsetDateTime> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let nanos = x * nanos_per_unit(x) as f64;
    OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
}

fn parse_text(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    if let Some(t) = http_date(s).or_else(|| iso_basic(s)) {
        return Some(t);
    }
    // Slicing below needs the date and time part to be ASCII.
    if s.len() < 19 || !s.as_bytes()[..19].is_ascii() {
        return None;
    }
    let mut fixed = String::with_capacity(s.len() + 1);
    fixed.push_str(&s[..10]);
    fixed.push('T');
    fixed.push_str(s[11..].trim_end_matches(" UTC"));
    let tail = &fixed[19..];
    if !(tail.contains('Z') || tail.contains('+') || tail.contains('-')) {
        fixed.push('Z');
    }
    OffsetDateTime::parse(&fixed, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// An HTTP date (`Tue, 31 Mar 2026 13:28:41 GMT`, RFC 9110's IMF-fixdate, which collectors
/// copy from the `Date` header), or any RFC 2822 date.
fn http_date(s: &str) -> Option<OffsetDateTime> {
    if s.as_bytes().get(3) != Some(&b',') {
        return None;
    }
    let numeric = match s.strip_suffix(" GMT").or_else(|| s.strip_suffix(" UTC")) {
        Some(head) => format!("{head} +0000"),
        None => s.to_owned(),
    };
    OffsetDateTime::parse(&numeric, &Rfc2822)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// ISO 8601's basic format (`20250812T130741Z`, AWS's `x-amz-date`), with optional
/// fraction and a `Z` or `±hhmm` offset (none: UTC): rewritten to the extended form and parsed as such.
fn iso_basic(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() < 15 || b[8] != b'T' || !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    let rest = s.get(15..)?;
    let (fraction, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, "Z"),
    };
    let zone = match zone.len() {
        5 => format!("{}:{}", &zone[..3], &zone[3..]),
        _ => zone.to_owned(),
    };
    let extended = format!(
        "{}-{}-{}T{}:{}:{}{fraction}{zone}",
        &s[..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    OffsetDateTime::parse(&extended, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

fn clean(s: &str, redactions: &mut i64) -> String {
    let (r, n) = redact_ssns(&normalize_whitespace(s));
    *redactions += n as i64;
    r
}

fn clean_value(v: &mut Value, redactions: &mut i64) {
    match v {
        Value::String(s) => {
            let (r, n) = redact_ssns(s);
            if n > 0 {
                *redactions += n as i64;
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| clean_value(x, redactions)),
        Value::Object(m) => m.values_mut().for_each(|x| clean_value(x, redactions)),
        _ => {}
    }
}

fn count(v: Option<i64>, what: &str) -> Result<Option<i64>, Reject> {
    match v {
        Some(n) if n < 0 => Err(Reject::new("bad_usage", format!("{what} is negative: {n}"))),
        other => Ok(other),
    }
}

/// Earliest and latest accepted timestamps: anything else is a unit mix-up.
fn plausible(t: OffsetDateTime) -> bool {
    let y = t.year();
    (1990..=2200).contains(&y)
}

/// The finished row for `draft`, read from `line`.
pub fn finish(origin: Origin<'_>, line: &Value, draft: Draft) -> Result<Evidence, Reject> {
    let ts = draft
        .ts
        .ok_or_else(|| Reject::new("missing_timestamp", "no timestamp in any known field"))?;
    if !plausible(ts) {
        return Err(Reject::new(
            "bad_timestamp",
            format!("timestamp {ts} is outside 1990..2200"),
        ));
    }
    let mut redactions = 0;
    let prompt = clean(&draft.prompt, &mut redactions);
    let response = clean(&draft.response, &mut redactions);
    let task = draft
        .task
        .map(|t| clean(&t, &mut redactions))
        .filter(|t| !t.is_empty());
    let mut metadata: Map<String, Value> = draft.metadata;
    for v in metadata.values_mut() {
        clean_value(v, &mut redactions);
    }
    let pt = count(draft.prompt_tokens, "prompt_tokens")?;
    let ct = count(draft.completion_tokens, "completion_tokens")?;
    let latency = count(draft.latency_ms, "latency_ms")?;
    let tokens_estimated = pt.is_none() || ct.is_none();
    let est = |s: &str| i64::try_from(estimate_tokens(s)).unwrap_or(i64::MAX);
    Ok(Evidence {
        evidence_id: evidence_id(origin.kind, draft.source.as_ref().unwrap_or(line)),
        kind: origin.kind.to_owned(),
        source_key: origin.source_key.to_owned(),
        source_line: origin.line,
        run_id: draft.run_id.filter(|s| !s.is_empty()),
        ts,
        model: draft.model.filter(|s| !s.is_empty()),
        task,
        prompt_tokens: pt.unwrap_or_else(|| est(&prompt)),
        completion_tokens: ct.unwrap_or_else(|| est(&response)),
        prompt,
        response,
        tokens_estimated,
        latency_ms: latency,
        outcome: draft.outcome.filter(|s| !s.is_empty()),
        score: draft.score.filter(|s| s.is_finite()),
        tags: draft.tags,
        metadata,
        redactions,
        materializer_run: origin.run.to_owned(),
    })
}

/// Every row of one parsed line, all or none (an OTLP line's spans stand or fall together).
pub fn rows_of(
    t: &dyn Transform,
    origin: Origin<'_>,
    line: &Value,
) -> Result<Vec<Evidence>, Reject> {
    t.apply(line)?
        .into_iter()
        .map(|d| finish(origin, line, d))
        .collect()
}

pub use lakehouse_jobs::output::day_partition as day_string;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    #[test]
    fn every_timestamp_shape_becomes_the_same_utc_instant() {
        let want = utc("2026-11-21T10:15:02Z");
        for v in [
            json!("2026-11-21T10:15:02Z"),
            json!("2026-11-21T11:15:02+01:00"),
            json!("2026-11-21T05:15:02-05:00"),
            json!("2026-11-21 10:15:02"),
            json!("2026-11-21T10:15:02"),
            json!("2026-11-21 10:15:02 UTC"),
            json!(1_795_256_102),
            json!(1_795_256_102_000_i64),
            json!(1_795_256_102_000_000_i64),
            json!("1795256102000000000"),
            json!(1_795_256_102.0),
            json!("Fri, 21 Nov 2026 10:15:02 GMT"),
            json!("Fri, 21 Nov 2026 11:15:02 +0100"),
            json!("20261121T101502Z"),
            json!("20261121T111502+0100"),
            json!("20261121T101502"),
        ] {
            assert_eq!(parse_ts(&v), Some(want), "{v}");
        }
        // Nanoseconds since the epoch are read exactly, not through a float.
        assert_eq!(
            parse_ts(&json!("1738074845669299666")).map(|t| t.nanosecond()),
            Some(669_299_666)
        );
        assert_eq!(
            parse_ts(&json!(1_738_074_845_669_299_666_i64)).map(|t| t.nanosecond()),
            Some(669_299_666)
        );
        assert_eq!(
            parse_ts(&json!("2026-11-21T10:15:02.250Z")).map(|t| t.millisecond()),
            Some(250)
        );
        for bad in [
            json!("yesterday"),
            json!(null),
            json!(-5),
            json!("2026-13-40T00:00:00Z"),
            json!("2026-11-2é 10:15:02"),
            json!("2026-11-21 10:1é:02"),
            json!("2026-11-21 10:15:02é"),
            json!("Fri, 21 Nov 2026 25:15:02 GMT"),
            json!("2026112XT101502Z"),
            json!("20261121T101502Q"),
            json!("Fré, 21 Nov 2026 10:15:02 GMT"),
        ] {
            assert_eq!(parse_ts(&bad), None, "{bad}");
        }
    }

    #[test]
    fn the_day_follows_utc_not_the_logged_offset() {
        let t = parse_ts(&json!("2026-11-21T23:30:00-05:00")).unwrap();
        assert_eq!(day_string(t.date()), "2026-11-22");
    }

    fn draft() -> Draft {
        Draft {
            source: None,
            ts: parse_ts(&json!("2026-11-21T10:00:00Z")),
            prompt: "  my ssn is 123-45-6789,\r\n\r\n\r\n call 555-123-4567 on 2026-11-21 ".into(),
            response: "ok".into(),
            ..Draft::default()
        }
    }

    fn origin() -> Origin<'static> {
        Origin {
            kind: "tool_call",
            source_key: "raw/tool_call/a.jsonl",
            line: 3,
            run: "r",
        }
    }

    #[test]
    fn text_is_normalised_redacted_and_counted() {
        let mut d = draft();
        d.metadata
            .insert("note".into(), json!(["also 987-65-4321"]));
        let e = finish(origin(), &json!({"x": 1}), d).unwrap();
        assert_eq!(
            e.prompt,
            "my ssn is [REDACTED-SSN],\n\ncall 555-123-4567 on 2026-11-21"
        );
        assert_eq!(e.metadata["note"], json!(["also [REDACTED-SSN]"]));
        assert_eq!(e.redactions, 2);
        assert_eq!(day_string(e.day()), "2026-11-21");
    }

    #[test]
    fn missing_usage_is_estimated_and_flagged() {
        let e = finish(origin(), &json!({"x": 1}), draft()).unwrap();
        assert!(e.tokens_estimated);
        assert_eq!(e.completion_tokens, 1);
        let mut d = draft();
        d.prompt_tokens = Some(12);
        d.completion_tokens = Some(3);
        let e = finish(origin(), &json!({"x": 1}), d).unwrap();
        assert!(!e.tokens_estimated);
        assert_eq!((e.prompt_tokens, e.completion_tokens), (12, 3));
    }

    #[test]
    fn bad_drafts_are_rejected_with_a_reason() {
        let mut d = draft();
        d.ts = None;
        assert_eq!(
            finish(origin(), &json!({"x": 1}), d).unwrap_err().reason,
            "missing_timestamp"
        );
        let mut d = draft();
        d.ts = parse_ts(&json!(1));
        assert!(d.ts.is_some());
        assert_eq!(
            finish(origin(), &json!({"x": 1}), d).unwrap_err().reason,
            "bad_timestamp"
        );
        let mut d = draft();
        d.completion_tokens = Some(-1);
        assert_eq!(
            finish(origin(), &json!({"x": 1}), d).unwrap_err().reason,
            "bad_usage"
        );
    }
}
