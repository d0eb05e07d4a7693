//! The SQL wrapper on hostile text: every statement is refused or wrapped as exactly one
//! string literal inside `query()`, whatever quotes, comments and semicolons it holds; the
//! identifier scanner never panics. (DuckDB itself then parses the literal.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_queryd::sandbox::{identifiers, wrap};

#[test]
fn every_statement_is_refused_or_one_literal() {
    let seeds: Vec<Vec<u8>> = [
        "SELECT * FROM sales WHERE name = 'o''brien' -- x\n",
        "with t as (select 1) select * from t; ",
        "SELECT 1); DROP VIEW sales; SELECT (1",
        "/* c */ FROM \"we\"\"ird\" SELECT count(*)",
        "select '\\'' || $$dollar$$ ; ;; -- '",
        "VALUES (1, 'a'), (2, 'b')",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    lakehouse_fuzz::run("sql", &seeds, Duration::from_secs(1), |b| {
        let sql = String::from_utf8_lossy(b);
        let _ = identifiers(&sql);
        if let Ok(w) = wrap(&sql, 11) {
            let inner = w
                .strip_prefix("SELECT * FROM query('")
                .and_then(|r| r.strip_suffix("') LIMIT 11"))
                .unwrap_or_else(|| panic!("not one wrapped statement: {w}"));
            assert!(
                !inner.replace("''", "").contains('\''),
                "a quote escaped the literal: {w}"
            );
        }
    });
}
