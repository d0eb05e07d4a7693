//! CSV → zstd Parquet with DuckDB, using the types the scan inferred (no second sniffing pass).

use std::path::Path;

use duckdb::{Config, Connection};

use crate::scan::ColumnScan;

/// Rows per Parquet row group: DuckDB's own default, a good unit for parallel scans.
pub const ROW_GROUP_ROWS: u64 = 122_880;

/// DuckDB limits for one conversion.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Worker threads (0 = DuckDB's default, one per core).
    pub threads: usize,
    /// Memory limit in MiB.
    pub memory_limit_mb: u64,
}

/// A SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Converts `csv` to `parquet`; the rows written.
pub fn csv_to_parquet(
    csv: &Path,
    parquet: &Path,
    delimiter: u8,
    header: bool,
    columns: &[ColumnScan],
    limits: Limits,
) -> Result<u64, String> {
    let spill = parquet.with_extension("spill");
    let mut config = Config::default()
        .max_memory(&format!("{}MB", limits.memory_limit_mb))
        .and_then(|c| c.with("temp_directory", spill.to_string_lossy()))
        .map_err(|e| e.to_string())?;
    if limits.threads > 0 {
        config = config
            .threads(i64::try_from(limits.threads).unwrap_or(1))
            .map_err(|e| e.to_string())?;
    }
    let conn = Connection::open_in_memory_with_flags(config).map_err(|e| e.to_string())?;
    let cols = columns
        .iter()
        .map(|c| format!("{}: {}", literal(&c.name), literal(c.sql_type)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "COPY (SELECT * FROM read_csv({csv}, delim = {delim}, quote = '\"', escape = '\"', \
         header = {header}, auto_detect = false, columns = {{{cols}}}, null_padding = false, \
         strict_mode = true)) TO {out} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
        csv = literal(&csv.to_string_lossy()),
        delim = literal(&char::from(delimiter).to_string()),
        out = literal(&parquet.to_string_lossy()),
    );
    // COPY answers one row: the number of rows written.
    let rows = conn
        .query_row(&sql, [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&spill);
    u64::try_from(rows?).map_err(|e| e.to_string())
}
