//! Text normalisation shared by the jobs.

/// Whitespace normalised: CRLF and CR become LF; runs of spaces, tabs and other horizontal
/// whitespace become one space; lines are trimmed; more than one blank line in a row becomes
/// one; leading and trailing blank lines go. Line structure (code, lists) survives.
pub fn normalize_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0usize;
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    for line in unified.split('\n') {
        let mut l = String::with_capacity(line.len());
        let mut space = false;
        for c in line.chars() {
            if c.is_whitespace() {
                space = true;
            } else if !c.is_control() || c == '\t' {
                if space && !l.is_empty() {
                    l.push(' ');
                }
                space = false;
                l.push(c);
            }
        }
        if l.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(&l);
    }
    out
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
    }

    #[test]
    fn tokens_are_estimated_from_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
    }
}
