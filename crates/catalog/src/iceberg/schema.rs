//! Our column types as Iceberg types, with field ids, and the name mapping that lets Iceberg
//! readers find those fields in Parquet files that carry no field ids of their own.
//!
//! Ids are given by column name, in the order names first appear in the retained history, so
//! one name keeps one id in every schema of a table (a type change keeps the id, because the
//! name mapping can map a name to one id only: each snapshot is read with its own schema,
//! whose type matches its files). A list's elements are keyed by the column name and a
//! NUL-separated depth, which no column name can collide with.

use std::collections::BTreeMap;

use lakehouse_types::Column;
use serde_json::{Value, json};

/// Field ids of a table's columns: name → id, and the element ids of list columns.
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldIds {
    ids: BTreeMap<String, i64>,
    last: i64,
}

impl FieldIds {
    fn id(&mut self, path: &str) -> i64 {
        if let Some(id) = self.ids.get(path) {
            return *id;
        }
        self.last += 1;
        self.ids.insert(path.to_owned(), self.last);
        self.last
    }

    /// Gives ids to every column of `schema` (and its list elements) not seen yet.
    pub(crate) fn see(&mut self, schema: &[Column]) {
        for c in schema {
            self.id(&c.name);
        }
        for c in schema {
            let mut path = c.name.clone();
            for _ in 0..list_depth(&c.ty) {
                path.push_str(ELEMENT);
                self.id(&path);
            }
        }
    }

    /// The highest id given.
    pub(crate) fn last(&self) -> i64 {
        self.last
    }

    /// An Iceberg schema (`struct`) of `columns` with id `schema_id`.
    pub(crate) fn schema(&mut self, schema_id: i64, columns: &[Column]) -> Value {
        let fields: Vec<Value> = columns
            .iter()
            .map(|c| {
                json!({
                    "id": self.id(&c.name),
                    "name": c.name,
                    // Never `required`: our Parquet columns are all optional, and a reader
                    // may refuse a required field it finds optional in a file.
                    "required": false,
                    "type": self.ty(&c.name, &c.ty),
                })
            })
            .collect();
        json!({"type": "struct", "schema-id": schema_id, "fields": fields})
    }

    fn ty(&mut self, path: &str, ty: &str) -> Value {
        match ty.strip_suffix("[]") {
            Some(inner) => {
                let element_path = format!("{path}{ELEMENT}");
                let element_id = self.id(&element_path);
                json!({
                    "type": "list",
                    "element-id": element_id,
                    "element": self.ty(&element_path, inner),
                    "element-required": false,
                })
            }
            None => Value::String(primitive(ty).to_owned()),
        }
    }

    /// `schema.name-mapping.default`: every named field, lists' elements under the names
    /// Parquet writers give them (`element`, or `item` from Arrow's writers).
    pub(crate) fn name_mapping(&self) -> String {
        let top: Vec<Value> = self
            .ids
            .iter()
            .filter(|(path, _)| !path.ends_with(ELEMENT))
            .map(|(name, id)| self.mapped(name, *id, &[name.as_str()]))
            .collect();
        Value::Array(top).to_string()
    }

    fn mapped(&self, path: &str, id: i64, names: &[&str]) -> Value {
        let element = format!("{path}{ELEMENT}");
        match self.ids.get(&element) {
            Some(eid) => json!({
                "field-id": id,
                "names": names,
                "fields": [self.mapped(&element, *eid, &["element", "item"])],
            }),
            None => json!({"field-id": id, "names": names}),
        }
    }
}

/// Appended to a path for its list's element.
const ELEMENT: &str = "\0[]";

fn list_depth(ty: &str) -> usize {
    let mut t = ty;
    let mut depth = 0;
    while let Some(inner) = t.strip_suffix("[]") {
        t = inner;
        depth += 1;
    }
    depth
}

/// The Iceberg primitive for one of our column types ([`lakehouse_types::catalog::COLUMN_TYPES`]).
fn primitive(ty: &str) -> &'static str {
    match ty.to_ascii_uppercase().as_str() {
        "BOOLEAN" => "boolean",
        "TINYINT" | "SMALLINT" | "INTEGER" => "int",
        "BIGINT" => "long",
        "FLOAT" => "float",
        "DOUBLE" => "double",
        "DATE" => "date",
        "TIMESTAMP" => "timestamp",
        "TIMESTAMP WITH TIME ZONE" => "timestamptz",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            nullable: true,
        }
    }

    #[test]
    fn a_name_keeps_its_id_across_schemas_and_lists_get_element_ids() {
        let mut ids = FieldIds::default();
        let first = [col("id", "BIGINT"), col("tags", "VARCHAR[]")];
        let second = [col("score", "DOUBLE"), col("id", "VARCHAR")];
        ids.see(&first);
        ids.see(&second);
        let s0 = ids.schema(0, &first);
        let s1 = ids.schema(1, &second);
        assert_eq!(s0["fields"][0]["id"], 1);
        assert_eq!(s0["fields"][1]["type"]["type"], "list");
        assert_eq!(s0["fields"][1]["type"]["element-id"], 3);
        assert_eq!(s0["fields"][1]["type"]["element"], "string");
        assert_eq!(
            s1["fields"][1]["id"], 1,
            "id keeps its id when its type changes"
        );
        assert_eq!(s1["fields"][1]["type"], "string");
        assert_eq!(s1["fields"][0]["id"], 4);
        assert_eq!(ids.last(), 4);
        let mapping: Value = serde_json::from_str(&ids.name_mapping()).unwrap();
        let tags = mapping
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["names"][0] == "tags")
            .unwrap();
        assert_eq!(tags["field-id"], 2);
        assert_eq!(tags["fields"][0]["field-id"], 3);
        assert_eq!(tags["fields"][0]["names"], json!(["element", "item"]));
        assert_eq!(mapping.as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_column_named_like_a_list_element_gets_its_own_id() {
        let mut ids = FieldIds::default();
        let cols = [col("a", "BIGINT[]"), col("a[]", "BIGINT")];
        ids.see(&cols);
        let s = ids.schema(0, &cols);
        assert_ne!(s["fields"][0]["type"]["element-id"], s["fields"][1]["id"]);
        assert_eq!(ids.last(), 3);
    }

    #[test]
    fn every_column_type_has_an_iceberg_type() {
        for ty in lakehouse_types::catalog::COLUMN_TYPES {
            let p = primitive(ty);
            assert!(
                ty == "VARCHAR" || p != "string",
                "{ty} fell through to string"
            );
        }
    }
}
