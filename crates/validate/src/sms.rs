//! SMS length as carriers count it. A text written only in the GSM 03.38 alphabet is sent in
//! 7-bit septets: 160 to a single message, 153 to each part of a longer one (a part header
//! takes the rest), and the characters of the extension table (`^ { } \ [ ~ ] | €` and form
//! feed) cost two, an escape and the character. Any other character makes the whole text
//! UCS-2: 70 UTF-16 code units to a message, 67 to each part, and a character outside the
//! Basic Multilingual Plane (most emoji) takes two.

/// The GSM 03.38 default alphabet (one septet each).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table (an escape septet and the character).
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// How a text is encoded and how long it is in that encoding's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM-7: the length in septets.
    Gsm7(usize),
    /// UCS-2: the length in UTF-16 code units.
    Ucs2(usize),
}

impl Encoding {
    /// The units one message of `parts` parts holds.
    pub fn capacity(self, parts: usize) -> usize {
        match (self, parts) {
            (Self::Gsm7(_), 0 | 1) => 160,
            (Self::Gsm7(_), n) => 153 * n,
            (Self::Ucs2(_), 0 | 1) => 70,
            (Self::Ucs2(_), n) => 67 * n,
        }
    }

    /// Its length in its own units.
    pub fn units(self) -> usize {
        match self {
            Self::Gsm7(n) | Self::Ucs2(n) => n,
        }
    }
}

/// The first character that needs UCS-2, if any.
pub fn needs_ucs2(text: &str) -> Option<char> {
    text.chars()
        .find(|c| !BASIC.contains(*c) && !EXTENSION.contains(*c))
}

/// How `text` would be sent.
pub fn encoding(text: &str) -> Encoding {
    if needs_ucs2(text).is_some() {
        return Encoding::Ucs2(text.encode_utf16().count());
    }
    Encoding::Gsm7(
        text.chars()
            .map(|c| if EXTENSION.contains(c) { 2 } else { 1 })
            .sum(),
    )
}

/// The failure, if `text` does not fit in `parts` message parts.
pub fn check_length(text: &str, parts: usize) -> Option<String> {
    let enc = encoding(text);
    let cap = enc.capacity(parts);
    if enc.units() <= cap {
        return None;
    }
    let within = if parts <= 1 {
        "one message".to_owned()
    } else {
        format!("{parts} parts")
    };
    Some(match enc {
        Encoding::Gsm7(n) => format!("{n} GSM-7 characters > {cap} ({within})"),
        Encoding::Ucs2(n) => {
            let c = needs_ucs2(text).unwrap_or('?');
            format!(
                "{n} UCS-2 characters > {cap} ({within}; {c:?} is outside GSM-7, so the whole text is UCS-2)"
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_counts_septets_and_the_extension_table_twice() {
        assert_eq!(encoding("Hello @ £5, café?"), Encoding::Gsm7(17));
        assert_eq!(encoding("{x} costs 5€"), Encoding::Gsm7(15));
        assert_eq!(encoding(&"a".repeat(160)), Encoding::Gsm7(160));
        assert_eq!(check_length(&"a".repeat(160), 1), None);
        assert_eq!(
            check_length(&"a".repeat(161), 1).unwrap(),
            "161 GSM-7 characters > 160 (one message)"
        );
        // 80 braces are 160 septets: full; one more character is over.
        assert_eq!(check_length(&"{".repeat(80), 1), None);
        assert!(check_length(&format!("{}a", "{".repeat(80)), 1).is_some());
        assert_eq!(check_length(&"a".repeat(306), 2), None);
        assert!(check_length(&"a".repeat(307), 2).is_some());
    }

    #[test]
    fn one_character_outside_gsm7_makes_the_text_ucs2() {
        // 'ç' (lower case) is not in the alphabet, though 'Ç' is.
        assert_eq!(needs_ucs2("Ça va"), None);
        assert_eq!(needs_ucs2("ça va"), Some('ç'));
        assert_eq!(
            encoding(&format!("ç{}", "a".repeat(69))),
            Encoding::Ucs2(70)
        );
        assert_eq!(check_length(&format!("ç{}", "a".repeat(69)), 1), None);
        let over = check_length(&format!("ç{}", "a".repeat(70)), 1).unwrap();
        assert!(
            over.starts_with("71 UCS-2 characters > 70 (one message; 'ç'"),
            "{over}"
        );
        // An emoji is two UTF-16 code units.
        assert_eq!(encoding("ok 👍"), Encoding::Ucs2(5));
        assert_eq!(check_length(&"👍".repeat(35), 1), None);
        assert!(check_length(&"👍".repeat(36), 1).is_some());
        assert_eq!(check_length(&"ж".repeat(134), 2), None);
        assert!(check_length(&"ж".repeat(135), 2).is_some());
        // Curly quotes, as models like to write them, are not GSM-7 either.
        assert_eq!(needs_ucs2("it’s"), Some('’'));
    }
}
