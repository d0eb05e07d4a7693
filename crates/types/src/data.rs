//! ingestd's and queryd's wire types.

use serde::{Deserialize, Serialize};

use crate::Column;

/// `POST /ingest` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Dataset name.
    pub dataset: String,
    /// Hash of the ordered `name:type` list.
    pub schema_fingerprint: String,
    /// Columns inferred from the file.
    pub schema: Vec<Column>,
    /// Data rows in the file.
    pub rows: u64,
    /// The Parquet object holding them.
    pub object_key: String,
    /// The dataset's manifest version after the call.
    pub version: u64,
    /// The catalog version of the dataset's snapshot after the call.
    #[serde(default)]
    pub catalog_version: u64,
    /// True when these bytes were already in the dataset: nothing was written.
    pub existing: bool,
    /// Time from the request's arrival to the answer.
    pub elapsed_ms: u64,
}

/// `POST /sql` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One read-only statement.
    pub sql: String,
    /// `json`, `ndjson`, `csv`, `arrow` or `parquet`; absent: from the `Accept` header, else `json`.
    #[serde(default)]
    pub format: Option<String>,
    /// Rows returned at most; beyond it the answer says `truncated`.
    #[serde(default)]
    pub max_rows: Option<u64>,
    /// Read every dataset as it was at this catalog version (a number) or time (an RFC 3339
    /// string); absent: the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<crate::versions::AsOf>,
}

/// A result column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ResultColumn {
    /// Name.
    pub name: String,
    /// DuckDB type name.
    #[serde(rename = "type")]
    pub ty: String,
}

/// `POST /sql` JSON answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SqlResponse {
    /// Result columns.
    pub columns: Vec<ResultColumn>,
    /// Rows as objects keyed by column name.
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Rows returned.
    pub row_count: u64,
    /// True when more rows existed than `max_rows`.
    pub truncated: bool,
    /// Server-side time.
    pub elapsed_ms: u64,
    /// The catalog version every dataset was read at (pass it as `as_of` to read the same).
    #[serde(default)]
    pub catalog_version: u64,
}

/// One entry of `GET /sql/tables`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TableInfo {
    /// View name (= dataset name).
    pub name: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows.
    pub row_count: u64,
    /// Manifest version the view reflects.
    pub version: u64,
}

/// `GET /sql/tables`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TablesResponse {
    /// One per dataset.
    pub tables: Vec<TableInfo>,
    /// How many.
    pub count: usize,
}
