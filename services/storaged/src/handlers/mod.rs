//! One module per operation, plus the key extraction they share.

pub mod delete;
pub mod get;
pub mod list;
pub mod put;

use std::time::SystemTime;

use http::Uri;
use lakehouse_common::ApiError;
use lakehouse_types::ObjectKey;
use percent_encoding::percent_decode_str;

const OBJECTS: &str = "/storage/objects/";

/// The key of an object route, decoded from the raw path so `%2F`, spaces and any other
/// escape round-trip exactly, and validated.
pub fn key_from_uri(uri: &Uri) -> Result<ObjectKey, ApiError> {
    let raw = uri.path().strip_prefix(OBJECTS).unwrap_or_default();
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| {
        ApiError::bad_request("key is not valid UTF-8 after percent-decoding")
            .with_code("invalid_key")
    })?;
    ObjectKey::parse(decoded.into_owned())
        .map_err(|e| ApiError::bad_request(format!("invalid key: {e}")).with_code("invalid_key"))
}

/// `/storage/objects/` with nothing after it.
pub async fn empty_key() -> ApiError {
    ApiError::bad_request("invalid key: key is empty").with_code("invalid_key")
}

/// RFC 3339 (UTC, seconds) for listings.
pub fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
