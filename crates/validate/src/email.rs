//! An email draft: a JSON object (`{"to"?, "subject", "body"}`, `to` a string or a list) or
//! plain text with header lines first (`To: …`, `Subject: …`), a blank line, then the body.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// An email's parts as the draft gave them.
#[derive(Debug, Default, PartialEq)]
pub struct Draft {
    /// Recipients, as written.
    pub to: Vec<String>,
    /// The subject line, if any.
    pub subject: Option<String>,
    /// The body, if any.
    pub body: Option<String>,
}

/// Reads a draft; `Err` when a JSON draft has fields of the wrong type.
pub fn parse(answer: &str) -> Result<Draft, String> {
    let text = crate::strip_fence(answer);
    if text.starts_with('{')
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text)
    {
        let string = |k: &str| match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("\"{k}\" is not a string")),
        };
        let to = match m.get("to") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_recipients(s),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("\"to\" holds a value that is not a string")?,
            Some(_) => return Err("\"to\" is neither a string nor a list".into()),
        };
        return Ok(Draft {
            to,
            subject: string("subject")?,
            body: string("body")?,
        });
    }
    let mut draft = Draft::default();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.peek() {
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "subject" => draft.subject = Some(value.trim().to_owned()),
            "to" | "cc" | "bcc" => draft.to.extend(split_recipients(value)),
            _ => break,
        }
        lines.next();
    }
    let body = lines.collect::<Vec<_>>().join("\n");
    draft.body = Some(body.trim().to_owned()).filter(|b| !b.is_empty());
    Ok(draft)
}

fn split_recipients(s: &str) -> Vec<String> {
    s.split([',', ';'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Template slots left unfilled: `{{name}}`, `[NAME]`, `[First Name]`, `<NAME>`.
pub fn placeholders(text: &str) -> Vec<String> {
    static SLOT: LazyLock<Regex> = LazyLock::new(|| {
        let pattern =
            r"\{\{[^{}]*\}\}|\[(?:[A-Z][A-Za-z]*(?:[ _-][A-Z][A-Za-z]*)*)\]|<[A-Z][A-Z_ ]*[A-Z]>";
        Regex::new(pattern).unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
    });
    SLOT.find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Whether `r` is one address (`a@b.example`) or a named one (`Ann <a@b.example>`).
pub fn well_formed_recipient(r: &str) -> bool {
    static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
        let pattern = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$";
        Regex::new(pattern).unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
    });
    let addr = match (r.rfind('<'), r.strip_suffix('>')) {
        (Some(i), Some(inner)) => &inner[i + 1..],
        _ => r,
    };
    let local = addr.split('@').next().unwrap_or("");
    ADDRESS.is_match(addr)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_read_from_json_and_from_headers() {
        let j = parse(r#"{"to": ["a@x.org"], "subject": "Hi", "body": "Text"}"#).unwrap();
        assert_eq!(
            (j.to, j.subject.as_deref(), j.body.as_deref()),
            (vec!["a@x.org".to_owned()], Some("Hi"), Some("Text"))
        );
        let t = parse("To: a@x.org, Bo <b@y.io>\nSubject: Shift\n\nHello,\nsee you.").unwrap();
        assert_eq!(t.to, ["a@x.org", "Bo <b@y.io>"]);
        assert_eq!(t.subject.as_deref(), Some("Shift"));
        assert_eq!(t.body.as_deref(), Some("Hello,\nsee you."));
        let bare = parse("Hello there").unwrap();
        assert_eq!(
            (bare.subject, bare.body.as_deref()),
            (None, Some("Hello there"))
        );
        assert!(parse(r#"{"subject": 3, "body": "x"}"#).is_err());
    }

    #[test]
    fn placeholders_are_found_but_ordinary_brackets_are_not() {
        assert_eq!(
            placeholders("Dear [NAME], your {{ shift }} at <COMPANY_NAME> is [First Name]"),
            ["[NAME]", "{{ shift }}", "<COMPANY_NAME>", "[First Name]"]
        );
        assert!(placeholders("See [1] and [a note], x < y > z, <b>bold</b>, {json}").is_empty());
    }

    #[test]
    fn recipients_are_checked() {
        for ok in [
            "a@x.org",
            "first.last+tag@mail.example.co.uk",
            "Ann Lee <ann@x.io>",
        ] {
            assert!(well_formed_recipient(ok), "{ok}");
        }
        for bad in [
            "a@",
            "@x.org",
            "a@x",
            "a b@x.org",
            "a@@x.org",
            ".a@x.org",
            "a..b@x.org",
            "a@-x.org",
            "Ann <ann@x>",
        ] {
            assert!(!well_formed_recipient(bad), "{bad}");
        }
    }
}
