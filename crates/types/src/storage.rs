//! storaged wire types.

use serde::{Deserialize, Serialize};

/// `PUT /storage/objects/{key}` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PutResponse {
    /// The key as stored.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// Opaque version tag (quoted, as in HTTP).
    pub etag: String,
}

/// One entry of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Opaque version tag (quoted, as in HTTP).
    pub etag: String,
    /// RFC 3339 UTC timestamp of the last write.
    pub last_modified: String,
}

/// `GET /storage/list` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ListResponse {
    /// Objects in UTF-8 byte order of their keys.
    pub objects: Vec<ObjectInfo>,
    /// Pass as `after` to get the next page; present when `truncated`.
    pub next_after: Option<String>,
    /// More objects match than were returned.
    pub truncated: bool,
}
