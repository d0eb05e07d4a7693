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

/// The column types a dataset may have: the types our writers produce (ingestd's inference,
/// the batch jobs' Parquet), each optionally a list (`VARCHAR[]`). Catalog strings reach SQL
/// (an empty dataset's view is built from them), so nothing outside this set is accepted.
pub const COLUMN_TYPES: [&str; 11] = [
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "FLOAT",
    "DOUBLE",
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE",
    "VARCHAR",
];

/// Deepest list nesting accepted in a column type (`BIGINT[][]` is 2).
pub const MAX_LIST_DEPTH: usize = 4;

/// The canonical spelling of column type `ty` (case-insensitive, one of [`COLUMN_TYPES`],
/// optionally followed by up to [`MAX_LIST_DEPTH`] `[]`), built only from static text so it
/// can be written into SQL; `None` when `ty` is anything else.
pub fn canonical_column_type(ty: &str) -> Option<String> {
    let mut base = ty;
    let mut depth = 0;
    while let Some(inner) = base.strip_suffix("[]") {
        base = inner;
        depth += 1;
    }
    if depth > MAX_LIST_DEPTH {
        return None;
    }
    let known = COLUMN_TYPES.iter().find(|t| t.eq_ignore_ascii_case(base))?;
    Some(format!("{known}{}", "[]".repeat(depth)))
}

/// Why column type `ty` is refused, naming the accepted set.
pub fn column_type_error(ty: &str) -> Option<String> {
    canonical_column_type(ty).is_none().then(|| {
        format!(
            "type '{}' is not a column type; the types are {} (each optionally followed by \
             up to {MAX_LIST_DEPTH} '[]' for a list)",
            ty.escape_default(),
            COLUMN_TYPES.join(", ")
        )
    })
}

/// Why `key` may not be a data object of dataset `name`. A dataset's objects live under
/// `datasets/<name>/` (what ingestd writes) or, for the datasets the batch jobs write,
/// `<name>/` (`evidence/day=…/…`), never under another dataset's prefix or the fleet's own
/// state, so a delete or replace of one dataset can only ever remove its own objects.
pub fn data_key_error(name: &str, key: &str) -> Option<String> {
    if crate::key::is_internal(key) {
        return Some(format!(
            "'{}' lies under an internal prefix ({})",
            key.escape_default(),
            crate::key::INTERNAL_PREFIXES.join(", ")
        ));
    }
    let under = |p: &str| {
        key.strip_prefix(p)
            .and_then(|k| k.strip_prefix('/'))
            .is_some_and(|k| !k.is_empty())
    };
    let own = under(&format!("datasets/{name}")) || (name != "datasets" && under(name));
    (!own).then(|| {
        format!(
            "'{}' is not under 'datasets/{name}/' or '{name}/': a dataset's objects live \
             under its own prefix",
            key.escape_default()
        )
    })
}

/// One column of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Column {
    /// Column name as written in the header.
    pub name: String,
    /// SQL type, one of [`COLUMN_TYPES`] (optionally a list).
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DataObject {
    /// Storage key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Rows in the object.
    pub row_count: u64,
}

/// A dataset's manifest, as stored at `_catalog/manifests/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
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
    /// The catalog version of the commit that made this snapshot of the dataset; the value
    /// an `expected_version` precondition names.
    #[serde(default)]
    pub catalog_version: u64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// `POST /catalog/register`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Precondition: the dataset's current `catalog_version` (0: it must not exist). A stale
    /// one is refused with 409 and the current version.
    #[serde(default)]
    pub expected_version: Option<u64>,
}

/// `POST /catalog/append`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Precondition, as in [`RegisterRequest::expected_version`].
    #[serde(default)]
    pub expected_version: Option<u64>,
}

/// Answer of register and append: the manifest after the call, and whether it already held
/// what was sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// The manifest.
    #[serde(flatten)]
    pub manifest: Manifest,
    /// True when the dataset existed with this fingerprint.
    pub existing: bool,
}

/// `GET /catalog/list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ManifestList {
    /// Every manifest, by name.
    pub manifests: Vec<Manifest>,
    /// How many.
    pub count: usize,
    /// The catalog version these manifests are at.
    pub version: u64,
    /// Datasets whose state at `version` was expired by retention (only for a list as of a
    /// past version): a query naming one cannot be answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<String>,
}

/// `GET /catalog/version`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
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

    #[test]
    fn column_types_are_a_closed_set() {
        for (ty, want) in [
            ("BIGINT", "BIGINT"),
            ("varchar", "VARCHAR"),
            ("Timestamp With Time Zone", "TIMESTAMP WITH TIME ZONE"),
            ("VARCHAR[]", "VARCHAR[]"),
            ("double[][][][]", "DOUBLE[][][][]"),
        ] {
            assert_eq!(canonical_column_type(ty).as_deref(), Some(want), "{ty}");
        }
        for bad in [
            "",
            " BIGINT",
            "BIGINT ",
            "DECIMAL(10,2)",
            "BIGINT) AS x, 1 AS y; CREATE OR REPLACE VIEW other AS SELECT 42 --",
            "VARCHAR[][][][][]",
            "[]",
            "INT8",
            "VARCHAR[1]",
        ] {
            assert!(column_type_error(bad).is_some(), "{bad}");
        }
        assert!(column_type_error("x'y").unwrap().contains("VARCHAR"));
    }

    #[test]
    fn data_objects_stay_under_their_dataset() {
        for (name, key) in [
            ("sales", "datasets/sales/abc.parquet"),
            ("sales", "datasets/sales/x/y.parquet"),
            ("evidence", "evidence/day=2026-11-01/a.parquet"),
            ("replay_runs", "replay_runs/day=2026-11-01/a.parquet"),
        ] {
            assert_eq!(data_key_error(name, key), None, "{name} {key}");
        }
        for (name, key) in [
            ("sales", "datasets/other/abc.parquet"),
            ("sales", "datasets/salesX/abc.parquet"),
            ("sales", "datasets/sales"),
            ("sales", "_catalog/manifests/other.json"),
            ("_catalog", "_catalog/manifests/other.json"),
            ("_vectors", "_vectors/idx.lhv1"),
            ("datasets", "datasets/other/a.parquet"),
            ("evidence", "raw/openai_chat/a.jsonl"),
        ] {
            assert!(data_key_error(name, key).is_some(), "{name} {key}");
        }
    }
}
