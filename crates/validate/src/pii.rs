//! SSN-shaped strings: three digits, two, four, joined by hyphens or single spaces
//! (`123-45-6789`, `123 45 6789`). A group chained to further digit groups is a number of
//! another kind — `1-555-12-3456`, `+44 020 12 3456`, a date, an id — and is left alone;
//! phone numbers (3-3-4) and dates (4-2-2, 2-2-4) never have the shape at all. So is one
//! written as an order or ticket number: `#123-45-6789`, `PO-123-45-6789`.

/// The text put in place of each SSN.
pub const REDACTED: &str = "[REDACTED-SSN]";

/// Byte ranges of the SSN-shaped strings in `s`.
pub fn find_ssns(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 11 <= b.len() {
        if let Some(end) = match_at(b, i) {
            out.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `s` holds an SSN-shaped string.
pub fn contains_ssn(s: &str) -> bool {
    !find_ssns(s).is_empty()
}

/// `s` with every SSN-shaped string replaced by [`REDACTED`], and how many there were.
pub fn redact_ssns(s: &str) -> (String, usize) {
    let found = find_ssns(s);
    if found.is_empty() {
        return (s.to_owned(), 0);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for &(a, z) in &found {
        out.push_str(&s[last..a]);
        out.push_str(REDACTED);
        last = z;
    }
    out.push_str(&s[last..]);
    (out, found.len())
}

fn digits(b: &[u8], at: usize, n: usize) -> bool {
    at + n <= b.len() && b[at..at + n].iter().all(u8::is_ascii_digit)
}

fn joiner(c: u8) -> bool {
    matches!(c, b'-' | b' ' | b'.' | b'/' | b'+')
}

/// Whether the word ending just before `dash` is "SSN" (any case).
fn labelled(b: &[u8], dash: usize) -> bool {
    dash >= 3
        && b[dash - 3..dash].eq_ignore_ascii_case(b"ssn")
        && (dash == 3 || !b[dash - 4].is_ascii_alphanumeric())
}

fn match_at(b: &[u8], i: usize) -> Option<usize> {
    let sep = *b.get(i + 3)?;
    if !matches!(sep, b'-' | b' ')
        || !digits(b, i, 3)
        || b.get(i + 6) != Some(&sep)
        || !digits(b, i + 4, 2)
        || !digits(b, i + 7, 4)
    {
        return None;
    }
    let end = i + 11;
    // Left edge: not inside a word or number, and not chained to a digit group before it.
    if i > 0 {
        let p = b[i - 1];
        if p.is_ascii_alphanumeric() || p == b'_' {
            return None;
        }
        if joiner(p) && i >= 2 && b[i - 2].is_ascii_digit() {
            return None;
        }
        // An order or invoice number: `#123-45-6789`, `PO-123-45-6789` (but `SSN-…` is one).
        if p == b'#'
            || (p == b'-' && i >= 2 && b[i - 2].is_ascii_alphanumeric() && !labelled(b, i - 1))
        {
            return None;
        }
    }
    // Right edge: likewise.
    if let Some(&n) = b.get(end) {
        if n.is_ascii_alphanumeric() || n == b'_' {
            return None;
        }
        if joiner(n) && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssns_are_found_and_redacted() {
        for s in [
            "ssn 123-45-6789",
            "SSN:078-05-1120.",
            "(123 45 6789)",
            "id=123-45-6789, ok",
            "123-45-6789",
            "SSN-123-45-6789",
        ] {
            let (r, n) = redact_ssns(s);
            assert_eq!(n, 1, "{s}");
            assert!(
                r.contains(REDACTED) && find_ssns(&r).is_empty(),
                "{s} → {r}"
            );
        }
        assert_eq!(
            redact_ssns("a 111-22-3333 and b 444-55-6666").0,
            "a [REDACTED-SSN] and b [REDACTED-SSN]"
        );
    }

    #[test]
    fn phone_numbers_dates_and_ids_are_not_redacted() {
        for s in [
            "call 555-123-4567",
            "call (555) 123-4567",
            "+1 555 123 4567",
            "1-555-12-3456",
            "+44 020 12 3456",
            "555.123.4567",
            "on 2024-01-15 at 10:30",
            "due 01-15-2024",
            "15/01/2024",
            "2024-01-15T10:30:00Z",
            "order 1234-56-7890",
            "ref 123-45-67890",
            "uuid 0a1b2c3d-123-45-6789x",
            "v123-45-6789",
            "123-456-789",
            "12345-6789",
            "123456789",
            "mixed 123-45 6789",
            "PO-123-45-6789",
            "invoice INV-2-123-45-6789",
            "ticket #123-45-6789",
        ] {
            assert_eq!(find_ssns(s), vec![], "{s}");
        }
    }

    #[test]
    fn redaction_keeps_utf8_intact() {
        let (r, n) = redact_ssns("é 123-45-6789 ü");
        assert_eq!((r.as_str(), n), ("é [REDACTED-SSN] ü", 1));
    }
}
