//! Bodies every service shares: health, readiness and the JSON error envelope.

use serde::{Deserialize, Serialize};

/// `GET /health` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct HealthResponse {
    /// The binary's name, e.g. `storaged`.
    pub service: String,
    /// Always `ok` when the process answers.
    pub status: String,
    /// The crate version.
    pub version: String,
}

/// `GET /ready` body, for both 200 and 503.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReadyResponse {
    /// The binary's name.
    pub service: String,
    /// `ready` or `not_ready`.
    pub status: String,
    /// Why the service is not ready (empty when ready).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Problems that do not stop the service from answering (e.g. a skipped corrupt object).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The error envelope: `{"error":{"code","message","request_id"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// Machine-readable code, human sentence and the request id to find it in the logs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// snake_case tag clients match on, e.g. `not_found`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The `x-request-id` of the failed request.
    #[serde(default)]
    pub request_id: String,
    /// On a 409 `version_conflict`: the version the precondition should have named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}
