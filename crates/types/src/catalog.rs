//! catalogd's wire types: manifests, register/append bodies, and the dataset-name rule.

use serde::{Deserialize, Serialize};

/// Longest dataset name accepted.
pub const MAX_DATASET_NAME: usize = 128;

/// Why a dataset name was refused.
pub fn dataset_name_error(name: &str) -> Option<String> {
    name_error("dataset", name)
}

/// Why `name` is not a valid name for a `kind` of thing (dataset, index): 1–128 characters
/// of letters, digits, `_`, `-`, `.`, not starting with `.` or `-`.
pub fn name_error(kind: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(format!("{kind} name is empty"));
    }
    if name.len() > MAX_DATASET_NAME {
        return Some(format!(
            "{kind} name is longer than {MAX_DATASET_NAME} characters"
        ));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Some(format!(
            "{kind} name '{name}' must not start with '.' or '-'"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(format!(
            "{kind} name '{}' has '{}': only letters, digits, '_', '-' and '.' are allowed",
            name.escape_default(),
            c.escape_default()
        ));
    }
    None
}

/// One column of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Column {
    /// Column name as written in the header.
    pub name: String,
    /// SQL type: BOOLEAN, BIGINT, DOUBLE, DATE, TIMESTAMP or VARCHAR.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether the column may hold NULL.
    #[serde(default = "yes")]
    pub nullable: bool,
}

/// The schema fingerprint: hex sha256 of the ordered `name:type` lines, each ending in `\n`.
pub fn schema_fingerprint(columns: &[Column]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in columns {
        h.update(c.name.as_bytes());
        h.update(b":");
        h.update(c.ty.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn yes() -> bool {
    true
}

/// One Parquet object of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataObject {
    /// Storage key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Rows in the object.
    pub row_count: u64,
}

/// A dataset's manifest, as stored at `_catalog/manifests/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Dataset name.
    pub name: String,
    /// Hash of the ordered `name:type` list.
    pub schema_fingerprint: String,
    /// Columns in order.
    pub schema: Vec<Column>,
    /// Parquet objects in order.
    pub objects: Vec<DataObject>,
    /// Sum of the objects' rows.
    pub row_count: u64,
    /// 1 on creation, + 1 on every change.
    pub version: u64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// `POST /catalog/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Dataset name.
    pub name: String,
    /// Schema fingerprint.
    pub schema_fingerprint: String,
    /// Columns.
    #[serde(default)]
    pub schema: Vec<Column>,
    /// The objects that make up the dataset (replacing any before).
    pub objects: Vec<DataObject>,
    /// Total rows; when given it must equal the objects' sum.
    #[serde(default)]
    pub row_count: Option<u64>,
}

/// `POST /catalog/append`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Dataset name.
    pub name: String,
    /// Must equal the dataset's fingerprint.
    pub schema_fingerprint: String,
    /// Objects to add; ones already in the manifest are skipped.
    pub objects: Vec<DataObject>,
    /// The appended data's columns, optional: a column nullable here becomes nullable in the
    /// manifest (names and types are already pinned by the fingerprint).
    #[serde(default)]
    pub schema: Vec<Column>,
    /// Create the dataset (with `schema`) when it does not exist, instead of answering 404.
    #[serde(default)]
    pub create: bool,
}

/// Answer of register and append: the manifest after the call, and whether it already held
/// what was sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisterResponse {
    /// The manifest.
    #[serde(flatten)]
    pub manifest: Manifest,
    /// True when the dataset existed with this fingerprint.
    pub existing: bool,
}

/// `GET /catalog/list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestList {
    /// Every manifest, by name.
    pub manifests: Vec<Manifest>,
    /// How many.
    pub count: usize,
    /// The catalog version these manifests are at.
    pub version: u64,
}

/// `GET /catalog/version`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CatalogVersion {
    /// Grows on every change.
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names() {
        for ok in ["a", "sales_2024", "A.b-c", "0x", &"n".repeat(128)] {
            assert_eq!(dataset_name_error(ok), None, "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "é",
            "a\"b",
            &"n".repeat(129),
        ] {
            assert!(dataset_name_error(bad).is_some(), "{bad}");
        }
    }
}
