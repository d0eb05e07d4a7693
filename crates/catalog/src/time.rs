//! Commit times: RFC 3339 on the wire and in records, milliseconds for arithmetic.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// `ms` as RFC 3339 UTC with millisecond precision.
pub(crate) fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An RFC 3339 time as milliseconds; `None` if it is not one.
pub fn parse_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let ms = 1_764_633_600_123;
        assert_eq!(parse_ms(&rfc3339(ms)), Some(ms));
        assert_eq!(
            parse_ms("2026-12-01T00:00:00+01:00"),
            Some(1_796_079_600_000)
        );
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-12-01"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
