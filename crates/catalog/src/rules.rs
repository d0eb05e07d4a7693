//! What a register or append must satisfy before anything is written.

use std::collections::HashSet;

use lakehouse_types::{
    Column, DataObject, Manifest, ObjectKey, column_type_error, data_key_error, dataset_name_error,
};

use crate::CatalogError;

/// Name, fingerprint and object keys: each key valid, under the dataset's own prefix, once.
pub(crate) fn validate_common(
    name: &str,
    fingerprint: &str,
    objects: &[DataObject],
) -> Result<(), CatalogError> {
    validate_name(name)?;
    if fingerprint.trim().is_empty() {
        return Err(CatalogError::invalid(
            "bad_request",
            "schema_fingerprint is empty",
        ));
    }
    let mut seen = HashSet::new();
    for (i, o) in objects.iter().enumerate() {
        if let Err(e) = ObjectKey::parse(o.key.clone()) {
            return Err(CatalogError::invalid(
                "invalid_key",
                format!("objects[{i}].key '{}': {e}", o.key.escape_default()),
            ));
        }
        if let Some(e) = data_key_error(name, &o.key) {
            return Err(CatalogError::invalid(
                "invalid_key",
                format!("objects[{i}].key {e}"),
            ));
        }
        if !seen.insert(o.key.as_str()) {
            return Err(CatalogError::invalid(
                "bad_request",
                format!("objects[{i}].key '{}' appears twice", o.key),
            ));
        }
    }
    Ok(())
}

/// A dataset name.
pub(crate) fn validate_name(name: &str) -> Result<(), CatalogError> {
    match dataset_name_error(name) {
        Some(e) => Err(CatalogError::invalid("invalid_name", e)),
        None => Ok(()),
    }
}

/// Column names non-empty and distinct (case-insensitively), types from the closed set.
pub(crate) fn validate_schema(schema: &[Column]) -> Result<(), CatalogError> {
    let mut seen = HashSet::new();
    for (i, c) in schema.iter().enumerate() {
        if c.name.is_empty() {
            return Err(CatalogError::invalid(
                "bad_request",
                format!("schema[{i}].name is empty"),
            ));
        }
        if let Some(e) = column_type_error(&c.ty) {
            return Err(CatalogError::invalid(
                "invalid_schema",
                format!("schema[{i}].{e}"),
            ));
        }
        if !seen.insert(c.name.to_lowercase()) {
            return Err(CatalogError::invalid(
                "bad_request",
                format!(
                    "schema[{i}].name '{}' appears twice (column names are case-insensitive)",
                    c.name
                ),
            ));
        }
    }
    Ok(())
}

/// What catalogd would have refused in a manifest read from storage (written around it, or
/// by an older build with looser rules): such state is never served.
pub(crate) fn stored_manifest_error(m: &Manifest) -> Option<String> {
    if let Some(e) = dataset_name_error(&m.name) {
        return Some(e);
    }
    let column = m
        .schema
        .iter()
        .enumerate()
        .find_map(|(i, c)| column_type_error(&c.ty).map(|e| format!("schema[{i}].{e}")));
    column.or_else(|| {
        m.objects.iter().enumerate().find_map(|(i, o)| {
            ObjectKey::parse(o.key.clone())
                .err()
                .map(|e| e.to_string())
                .or_else(|| data_key_error(&m.name, &o.key))
                .map(|e| format!("objects[{i}].key {e}"))
        })
    })
}

/// 409 unless `m`'s fingerprint is `fingerprint`.
pub(crate) fn check_fingerprint(m: &Manifest, fingerprint: &str) -> Result<(), CatalogError> {
    if m.schema_fingerprint == fingerprint {
        return Ok(());
    }
    Err(CatalogError::conflict(
        "schema_mismatch",
        format!(
            "dataset '{}' has schema fingerprint {}; the request has {}",
            m.name, m.schema_fingerprint, fingerprint
        ),
    ))
}
