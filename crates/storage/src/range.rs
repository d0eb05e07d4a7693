//! HTTP byte ranges (`Range: bytes=…`), one range per request.

use crate::{StorageError, StorageResult};

/// A single byte range as sent by a client, not yet resolved against an object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive).
    FromTo(u64, u64),
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parses a `Range` header value. `Ok(None)` means "serve the whole object": a multi-range
    /// request, which RFC 9110 lets a server ignore.
    pub fn parse_header(value: &str) -> StorageResult<Option<Self>> {
        let bad = || StorageError::BadRequest(format!("unparseable Range header '{value}'"));
        let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
        if spec.contains(',') {
            return Ok(None);
        }
        let (first, last) = spec.trim().split_once('-').ok_or_else(bad)?;
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
        let range = match (first.trim().is_empty(), last.trim().is_empty()) {
            (true, true) => return Err(bad()),
            (true, false) => Self::Suffix(num(last)?),
            (false, true) => Self::From(num(first)?),
            (false, false) => {
                let (a, b) = (num(first)?, num(last)?);
                if b < a {
                    return Err(bad());
                }
                Self::FromTo(a, b)
            }
        };
        Ok(Some(range))
    }

    /// The inclusive `(first, last)` offsets within an object of `size` bytes, clamped as
    /// RFC 9110 says; [`StorageError::InvalidRange`] when no byte of the object is selected.
    pub fn resolve(self, size: u64) -> StorageResult<(u64, u64)> {
        let invalid = StorageError::InvalidRange { size };
        if size == 0 {
            return Err(invalid);
        }
        match self {
            Self::FromTo(a, b) if a < size => Ok((a, b.min(size - 1))),
            Self::From(a) if a < size => Ok((a, size - 1)),
            Self::Suffix(n) if n > 0 => Ok((size - n.min(size), size - 1)),
            _ => Err(invalid),
        }
    }

    /// The header value to send to an S3 server.
    pub fn to_header(self) -> String {
        match self {
            Self::FromTo(a, b) => format!("bytes={a}-{b}"),
            Self::From(a) => format!("bytes={a}-"),
            Self::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        let r = |s| ByteRange::parse_header(s).unwrap().unwrap();
        assert_eq!(r("bytes=0-9").resolve(100).unwrap(), (0, 9));
        assert_eq!(r("bytes=90-200").resolve(100).unwrap(), (90, 99));
        assert_eq!(r("bytes=10-").resolve(100).unwrap(), (10, 99));
        assert_eq!(r("bytes=-10").resolve(100).unwrap(), (90, 99));
        assert_eq!(r("bytes=-1000").resolve(100).unwrap(), (0, 99));
        assert!(r("bytes=100-").resolve(100).is_err());
        assert!(r("bytes=-0").resolve(100).is_err());
        assert!(r("bytes=0-0").resolve(0).is_err());
        assert_eq!(ByteRange::parse_header("bytes=0-1,5-6").unwrap(), None);
        for bad in ["items=0-1", "bytes=", "bytes=-", "bytes=5-1", "bytes=a-b"] {
            assert!(ByteRange::parse_header(bad).is_err(), "{bad}");
        }
    }
}
