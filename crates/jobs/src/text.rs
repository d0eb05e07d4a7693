//! Text normalisation shared by the jobs.

/// Whitespace normalised: CRLF and CR become LF; runs of spaces, tabs and other horizontal
/// whitespace become one space; lines are trimmed; more than one blank line in a row becomes
/// one; leading and trailing blank lines go. Line structure (code, lists) survives.
pub fn normalize_whitespace(s: &str) -> String {
    if is_normal(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0usize;
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    for line in unified.split('\n') {
        let mut started = false;
        let mut space = false;
        for c in line.chars() {
            if c.is_whitespace() {
                space = true;
            } else if !c.is_control() {
                if !started {
                    if !out.is_empty() {
                        out.push('\n');
                        if blank_run > 0 {
                            out.push('\n');
                        }
                    }
                    blank_run = 0;
                    started = true;
                } else if space {
                    out.push(' ');
                }
                space = false;
                out.push(c);
            }
        }
        if !started {
            blank_run += 1;
        }
    }
    out
}

/// Whether `s` is already normal (the common case, checked without allocating): no CR, no
/// control characters, no whitespace but single spaces inside lines and single newlines or
/// one blank line between them, nothing to trim.
fn is_normal(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.is_ascii() {
        return false;
    }
    let mut prev = b'\n';
    let mut newlines = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b' ' if prev == b' ' || prev == b'\n' => return false,
            b'\n' => {
                if prev == b' ' {
                    return false;
                }
                newlines = if prev == b'\n' { newlines + 1 } else { 1 };
                if newlines > 2 || i == 0 {
                    return false;
                }
            }
            c if c < 0x20 || c == 0x7f => return false,
            _ => {}
        }
        prev = c;
    }
    !matches!(prev, b' ' | b'\n') || b.is_empty()
}

/// A token count estimated from text: one token per 4 characters, rounded up. Close to
/// GPT-style tokenisers on English prose; rows carrying it are flagged `tokens_estimated`.
pub fn estimate_tokens(s: &str) -> u64 {
    (s.chars().count() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_normalised_but_lines_survive() {
        assert_eq!(normalize_whitespace("  a \t b  "), "a b");
        assert_eq!(
            normalize_whitespace("line 1\r\n\r\n\r\n\r\n  line  2\n- x\n- y\n\n"),
            "line 1\n\nline 2\n- x\n- y"
        );
        assert_eq!(normalize_whitespace("a\u{a0}\u{2003}b\u{0}c"), "a bc");
        assert_eq!(normalize_whitespace(" \n \t\n"), "");
        assert_eq!(normalize_whitespace("a\tb"), "a b");
        assert_eq!(normalize_whitespace("a\n\nb"), "a\n\nb");
        assert_eq!(normalize_whitespace("a\n\n\nb"), "a\n\nb");
        assert_eq!(normalize_whitespace("a\n"), "a");
    }

    #[test]
    fn the_fast_path_agrees_with_the_slow_one() {
        for s in [
            "plain text",
            "a  b",
            " a",
            "a ",
            "a\nb",
            "a\n\nb",
            "a\n\n\nb",
            "\na",
            "a\n",
            "a \nb",
            "a\n b",
            "a\tb",
            "x\u{7f}y",
            "",
            "\n",
            "a\r\nb",
            "é ü",
        ] {
            // The slow path (forced by a trailing space) gives a normal text back unchanged,
            // and whatever it gives is normal.
            if is_normal(s) {
                assert_eq!(normalize_whitespace(&format!("{s} ")), s, "{s:?}");
            }
            let out = normalize_whitespace(s);
            assert!(is_normal(&out) || !out.is_ascii(), "{s:?} → {out:?}");
        }
        assert!(is_normal("a b\nc\n\nd"));
        assert!(!is_normal("a  b"));
        assert!(!is_normal("a\n\n\nb"));
    }

    #[test]
    fn tokens_are_estimated_from_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
    }
}
