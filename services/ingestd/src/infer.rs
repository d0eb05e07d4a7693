//! Type inference for CSV values: each non-empty value narrows its column's set of candidate
//! types; the narrowest survivor over the whole file is the column's type.
//!
//! The accepted spellings are a subset of what DuckDB's casts accept, so a column typed here
//! always converts.

/// A candidate type set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidates(u8);

const BOOL: u8 = 1;
const INT: u8 = 2;
const DOUBLE: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;

impl Candidates {
    /// Every type still possible (no value seen).
    pub const ALL: Self = Self(BOOL | INT | DOUBLE | DATE | TIMESTAMP);

    /// True once only VARCHAR is left: later values need no classification.
    pub fn is_varchar(self) -> bool {
        self.0 == 0
    }

    /// Narrows by one non-empty value.
    pub fn narrow(&mut self, v: &str) {
        if self.0 != 0 {
            self.0 &= classify(v.as_bytes());
        }
    }

    /// Whether every value seen parses as `ty` (one of the inferred types' names); VARCHAR
    /// holds anything, and a column with no values fits every type.
    pub fn fits(self, ty: &str) -> bool {
        let bit = match ty {
            "VARCHAR" => return true,
            "BOOLEAN" => BOOL,
            "BIGINT" => INT,
            "DOUBLE" => DOUBLE,
            "DATE" => DATE,
            "TIMESTAMP" => TIMESTAMP,
            _ => 0,
        };
        self.0 & bit != 0
    }

    /// The SQL type name.
    pub fn sql_type(self) -> &'static str {
        let c = self.0;
        if c == Self::ALL.0 {
            // Every value was empty: nothing to go on.
            "VARCHAR"
        } else if c & BOOL != 0 {
            "BOOLEAN"
        } else if c & INT != 0 {
            "BIGINT"
        } else if c & DOUBLE != 0 {
            "DOUBLE"
        } else if c & DATE != 0 {
            "DATE"
        } else if c & TIMESTAMP != 0 {
            "TIMESTAMP"
        } else {
            "VARCHAR"
        }
    }
}

fn classify(v: &[u8]) -> u8 {
    match v.first() {
        Some(b't' | b'T' | b'f' | b'F')
            if v.eq_ignore_ascii_case(b"true") || v.eq_ignore_ascii_case(b"false") =>
        {
            BOOL
        }
        Some(b'0'..=b'9' | b'-' | b'+' | b'.') => date_time(v).unwrap_or_else(|| number(v)),
        _ => 0,
    }
}

fn digits(v: &[u8]) -> usize {
    v.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn number(v: &[u8]) -> u8 {
    let body = match v.first() {
        Some(b'-' | b'+') => &v[1..],
        _ => v,
    };
    let int_len = digits(body);
    let mut i = int_len;
    if i == body.len() {
        if i == 0 {
            return 0;
        }
        // Integers that do not fit in BIGINT are still numbers.
        return if std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .is_some()
        {
            INT | DOUBLE
        } else {
            DOUBLE
        };
    }
    let mut frac_len = 0;
    if body[i] == b'.' {
        frac_len = digits(&body[i + 1..]);
        i += 1 + frac_len;
    }
    if int_len + frac_len == 0 {
        return 0;
    }
    if i < body.len() && matches!(body[i], b'e' | b'E') {
        i += 1;
        if i < body.len() && matches!(body[i], b'-' | b'+') {
            i += 1;
        }
        let e = digits(&body[i..]);
        if e == 0 {
            return 0;
        }
        i += e;
    }
    if i == body.len() { DOUBLE } else { 0 }
}

fn two(v: &[u8], at: usize) -> Option<u32> {
    let d = v.get(at..at + 2)?;
    if d.iter().all(u8::is_ascii_digit) {
        Some(u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'))
    } else {
        None
    }
}

/// `YYYY-MM-DD` → DATE (which also fits a TIMESTAMP column);
/// `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]][Z]` → TIMESTAMP.
fn date_time(v: &[u8]) -> Option<u8> {
    if v.len() < 10 || v[4] != b'-' || v[7] != b'-' || !v[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = v[..4]
        .iter()
        .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let (month, day) = (two(v, 5)?, two(v, 8)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Some(0),
    };
    if day == 0 || day > days {
        return Some(0);
    }
    if v.len() == 10 {
        return Some(DATE | TIMESTAMP);
    }
    let t = &v[10..];
    if !matches!(t[0], b'T' | b' ') || t.len() < 6 || t[3] != b':' {
        return Some(0);
    }
    let (h, m) = (two(t, 1)?, two(t, 4)?);
    if h > 23 || m > 59 {
        return Some(0);
    }
    let mut rest = &t[6..];
    if rest.first() == Some(&b':') {
        let s = two(rest, 1)?;
        if s > 59 {
            return Some(0);
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let f = digits(&rest[1..]);
            if f == 0 || f > 9 {
                return Some(0);
            }
            rest = &rest[1 + f..];
        }
    }
    match rest {
        [] | [b'Z'] => Some(TIMESTAMP),
        _ => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> &'static str {
        let mut c = Candidates::ALL;
        for v in values {
            c.narrow(v);
        }
        c.sql_type()
    }

    #[test]
    fn types() {
        assert_eq!(infer(&["true", "FALSE", "True"]), "BOOLEAN");
        assert_eq!(infer(&["1", "-2", "+3", "0012"]), "BIGINT");
        assert_eq!(infer(&["1", "2.5", "-3e4", ".5", "6.", "1E-3"]), "DOUBLE");
        assert_eq!(infer(&["99999999999999999999"]), "DOUBLE");
        assert_eq!(infer(&["2024-02-29", "1999-12-31"]), "DATE");
        assert_eq!(
            infer(&[
                "2024-01-01 10:00:00",
                "2024-01-01T10:00",
                "2024-01-01 10:00:00.123456Z",
                "2024-05-05"
            ]),
            "TIMESTAMP"
        );
        assert_eq!(infer(&[]), "VARCHAR");
    }

    #[test]
    fn mixtures_fall_back_to_varchar() {
        for mix in [
            &["1", "x"][..],
            &["true", "1"],
            &["2024-01-01", "5"],
            &["2023-02-29"],
            &["2024-13-01"],
            &["2024-01-01 24:00:00"],
            &["1.2.3"],
            &["-"],
            &["."],
            &["1e"],
            &[" 1"],
            &["inf"],
            &["NaN"],
            &["2024-01-01 10:00:00+02:00"],
            &["t"],
            &["yes"],
        ] {
            assert_eq!(infer(mix), "VARCHAR", "{mix:?}");
        }
    }
}
