//! What SQL may run. The guarantee is DuckDB's own: the statement runs as
//! `SELECT * FROM query('<sql>') LIMIT n`, and `query()` parses its argument and accepts
//! exactly one SELECT, never a second statement, DDL, DML, ATTACH, COPY, SET, PRAGMA, INSTALL
//! or LOAD. (A plain subquery wrapper is not enough: `x) ; DROP VIEW v; SELECT (1` closes it,
//! and DuckDB runs every statement before the last one it is asked to prepare.) DuckDB itself
//! is locked down (external access off except the cache directory, configuration locked, no
//! extension loading), which stops file and URL reads from inside a query. The keyword check here only
//! turns a refusal into a clear message.

use lakehouse_common::ApiError;

/// Statements that read: anything else is refused before DuckDB sees it.
const READ_ONLY: [&str; 10] = [
    "SELECT",
    "WITH",
    "FROM",
    "VALUES",
    "TABLE",
    "DESCRIBE",
    "SHOW",
    "SUMMARIZE",
    "PIVOT",
    "UNPIVOT",
];

/// Largest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 64 << 10;

/// The SQL without comments, whitespace and semicolons at either end.
fn trimmed(sql: &str) -> &str {
    let mut s = sql;
    loop {
        let t = s.trim_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(rest) = t.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = t.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return t;
        }
    }
}

/// Checks `sql` and returns the statement to run, capped at `limit` rows.
pub fn wrap(sql: &str, limit: u64) -> Result<String, ApiError> {
    let body = trimmed(sql);
    if body.is_empty() {
        return Err(ApiError::bad_request("sql is empty").with_code("empty_sql"));
    }
    let first: String = body
        .trim_start_matches('(')
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    if !READ_ONLY.contains(&first.as_str()) {
        let shown = if first.is_empty() {
            body.chars().take(20).collect()
        } else {
            first
        };
        return Err(ApiError::bad_request(format!(
            "only read-only queries may run ({}); this statement starts with '{shown}'",
            READ_ONLY.join(", ")
        ))
        .with_code("forbidden_statement"));
    }
    // `query()` makes DuckDB's own parser insist on exactly one SELECT; the text goes in as a
    // standard string literal (no backslash escapes), so doubling quotes is a complete escape.
    Ok(format!(
        "SELECT * FROM query('{}') LIMIT {limit}",
        body.replace('\'', "''")
    ))
}

/// Table functions that reach data without naming a dataset (by a computed name, a cache
/// file, or the engine's own catalog): refused to a token scoped to some datasets, whose
/// queries may read only the datasets they name.
const UNNAMED_READS: &[&str] = &[
    "query",
    "query_table",
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_text",
    "read_blob",
    "glob",
    "read_ndjson",
    "read_ndjson_auto",
    "sniff_csv",
    "duckdb_views",
    "duckdb_columns",
    "duckdb_tables",
    "duckdb_dependencies",
];

/// Refuses a query of a dataset-scoped token that names a dataset outside its scopes, or
/// reaches data without naming it.
pub fn check_scope(
    identifiers: &[String],
    datasets: &[String],
    who: &lakehouse_common::Principal,
) -> Result<(), ApiError> {
    if let Some(f) = identifiers
        .iter()
        .find(|i| UNNAMED_READS.contains(&i.as_str()))
    {
        return Err(ApiError::forbidden(format!(
            "token '{}' is scoped to some datasets; its queries may not use {f}()",
            who.name
        ))
        .with_code("forbidden"));
    }
    for d in datasets {
        if identifiers.contains(&d.to_ascii_lowercase()) {
            who.require_dataset(d)?;
        }
    }
    Ok(())
}

/// Identifiers in `sql` (bare words and "quoted" names), lowercased: the datasets a query may
/// touch are those whose names appear here. Strings and comments are skipped.
pub fn identifiers(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                let mut name = Vec::new();
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            name.push(b'"');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    name.push(b[i]);
                    i += 1;
                }
                i += 1;
                out.push(String::from_utf8_lossy(&name).to_lowercase());
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(sql[start..i].to_ascii_lowercase());
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_queries() {
        assert_eq!(
            wrap("select 'a';", 5).unwrap(),
            "SELECT * FROM query('select ''a''') LIMIT 5"
        );
        assert!(wrap("-- hi\n  WITH x AS (SELECT 1) SELECT * FROM x -- tail", 1).is_ok());
        assert!(wrap("/* c */ (SELECT 1)", 1).is_ok());
        assert!(wrap("from t", 1).is_ok());
    }

    #[test]
    fn refuses_the_rest() {
        for sql in [
            "",
            " ; ",
            "-- only a comment",
            "CREATE TABLE t(x int)",
            "insert into t values (1)",
            "ATTACH 'x.db'",
            "install httpfs",
            "LOAD httpfs",
            "COPY t TO '/tmp/x'",
            "SET threads=1",
            "PRAGMA enable_profiling",
            "drop view v",
            "EXPORT DATABASE '/tmp/x'",
            "CALL pragma_version()",
            "CHECKPOINT",
            "update t set x=1",
            "DETACH x",
            "USE x",
        ] {
            let e = wrap(sql, 1).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{sql}");
        }
    }

    #[test]
    fn finds_identifiers() {
        let ids = identifiers(
            "SELECT a FROM \"My-Data\" JOIN sales s -- other\n WHERE x = 'orders' /* items */",
        );
        assert_eq!(
            ids,
            vec![
                "select", "a", "from", "my-data", "join", "sales", "s", "where", "x"
            ]
        );
    }
}
