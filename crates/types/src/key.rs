//! Object keys: validated once, at the edge, so no backend ever sees a path it could escape with.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest key accepted, in bytes of UTF-8 (the S3 limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// First segment reserved for the storage server's own bookkeeping (temporary files).
pub const RESERVED_PREFIX: &str = ".lakehouse-tmp";

/// Longest segment accepted, in bytes: what a file system holds as one name (NAME_MAX), so
/// both backends accept the same keys.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Prefixes of the fleet's own state (manifests, vector indexes, job receipts and id
/// sidecars, the temporary-file directory). Only an admin or the fleet itself may touch them
/// through the public storage routes; a dataset may never list them as data objects.
pub const INTERNAL_PREFIXES: [&str; 5] = [
    "_catalog/",
    "_vectors/",
    "_receipts/",
    "_materializer/",
    ".lakehouse-tmp/",
];

/// Whether `key` lies under one of the [`INTERNAL_PREFIXES`] (or is one without its slash).
pub fn is_internal(key: &str) -> bool {
    INTERNAL_PREFIXES
        .iter()
        .any(|p| key.starts_with(p) || key == &p[..p.len() - 1])
}

/// A storage key: 1–1024 bytes of UTF-8, `/`-separated, with no empty, `.` or `..` segment,
/// no leading `/` and no control characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ObjectKey(String);

/// Why a key was refused; the message is meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key is the empty string.
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`].
    TooLong(usize),
    /// The key starts with `/`.
    LeadingSlash,
    /// Two slashes in a row, or a trailing slash.
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// A segment longer than [`MAX_SEGMENT_BYTES`]: (its position, its length).
    SegmentTooLong(usize, usize),
    /// A control character (C0, DEL or C1) at this byte offset.
    ControlCharacter(usize),
    /// The key lies under the reserved prefix.
    Reserved,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "key is empty"),
            Self::TooLong(n) => write!(f, "key is {n} bytes long; the limit is {MAX_KEY_BYTES}"),
            Self::LeadingSlash => write!(f, "key must not start with '/'"),
            Self::EmptySegment => write!(f, "key has an empty segment ('//' or a trailing '/')"),
            Self::DotSegment => write!(f, "key has a '.' or '..' segment"),
            Self::SegmentTooLong(i, n) => write!(
                f,
                "key segment {} is {n} bytes long; the limit is {MAX_SEGMENT_BYTES} bytes per \
                 '/'-separated segment",
                i + 1
            ),
            Self::ControlCharacter(at) => write!(f, "key has a control character at byte {at}"),
            Self::Reserved => write!(f, "keys under '{RESERVED_PREFIX}/' are reserved"),
        }
    }
}

impl std::error::Error for KeyError {}

impl ObjectKey {
    /// Validates `raw` and wraps it.
    pub fn parse(raw: impl Into<String>) -> Result<Self, KeyError> {
        let raw = raw.into();
        validate(&raw)?;
        Ok(Self(raw))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the key, returning the string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The `/`-separated segments of the key.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn validate(raw: &str) -> Result<(), KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    if raw.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(raw.len()));
    }
    if raw.starts_with('/') {
        return Err(KeyError::LeadingSlash);
    }
    if let Some((at, _)) = raw.char_indices().find(|(_, c)| c.is_control()) {
        return Err(KeyError::ControlCharacter(at));
    }
    for (i, segment) in raw.split('/').enumerate() {
        match segment {
            "" => return Err(KeyError::EmptySegment),
            "." | ".." => return Err(KeyError::DotSegment),
            RESERVED_PREFIX if i == 0 => return Err(KeyError::Reserved),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(KeyError::SegmentTooLong(i, s.len()));
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for ObjectKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for k in [
            "a",
            "datasets/x/abc.parquet",
            "with space/it's",
            "ünïcødé/日本",
            "a%2Fb",
            ".hidden/x",
            "x/.lakehouse-tmp",
        ] {
            assert_eq!(ObjectKey::parse(k).unwrap().as_str(), k);
        }
        let longest = vec!["s".repeat(MAX_SEGMENT_BYTES); 4].join("/");
        assert_eq!(longest.len(), 1023);
        assert!(ObjectKey::parse(longest).is_ok());
    }

    #[test]
    fn refuses_bad_keys_with_the_reason() {
        let cases = [
            ("", KeyError::Empty),
            ("/a", KeyError::LeadingSlash),
            ("a//b", KeyError::EmptySegment),
            ("a/", KeyError::EmptySegment),
            ("a/../b", KeyError::DotSegment),
            ("..", KeyError::DotSegment),
            ("./a", KeyError::DotSegment),
            ("a\nb", KeyError::ControlCharacter(1)),
            ("a\u{7f}", KeyError::ControlCharacter(1)),
            ("ab\u{85}", KeyError::ControlCharacter(2)),
            (".lakehouse-tmp/x", KeyError::Reserved),
        ];
        for (raw, want) in cases {
            assert_eq!(ObjectKey::parse(raw).unwrap_err(), want, "{raw:?}");
        }
        assert_eq!(
            ObjectKey::parse("a".repeat(MAX_KEY_BYTES + 1)).unwrap_err(),
            KeyError::TooLong(MAX_KEY_BYTES + 1)
        );
        let long = format!("a/{}/b", "é".repeat(128));
        let e = ObjectKey::parse(long).unwrap_err();
        assert_eq!(e, KeyError::SegmentTooLong(1, 256));
        assert!(e.to_string().contains("segment 2 is 256 bytes"), "{e}");
    }

    #[test]
    fn internal_prefixes() {
        for k in [
            "_catalog/manifests/a.json",
            "_vectors/x.lhv1",
            "_receipts",
            "_materializer/ids/a",
        ] {
            assert!(is_internal(k), "{k}");
        }
        for k in [
            "catalog/x",
            "_catalogue/x",
            "datasets/_catalog/x",
            "raw/_vectors/x",
        ] {
            assert!(!is_internal(k), "{k}");
        }
    }

    #[test]
    fn deserialize_validates() {
        let ok: ObjectKey = serde_json_like("\"a/b\"");
        assert_eq!(ok.as_str(), "a/b");
    }

    // A tiny deserializer so this crate needs no serde_json dependency.
    fn serde_json_like(s: &str) -> ObjectKey {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let inner = s.trim_matches('"');
        let d: StrDeserializer<'_, Error> = inner.into_deserializer();
        ObjectKey::deserialize(d).unwrap()
    }
}
