//! `lakehouse sql`: a statement through `/v1/sql`, its answer as a table on a terminal or
//! streamed as JSON, NDJSON, CSV, Arrow or Parquet to a file or pipe.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::output::{cell, print_table, refuse_binary_on_terminal, sink};
use crate::remote::{CliError, Remote, failed};

/// How an answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqlFormat {
    /// Columns for reading (the default on a terminal).
    Table,
    /// The gateway's JSON answer: columns, rows and figures (the default in a pipe).
    Json,
    /// One JSON object per row.
    Ndjson,
    /// A header row, then RFC 4180 rows.
    Csv,
    /// An Arrow IPC stream.
    Arrow,
    /// A Parquet file (zstd).
    Parquet,
}

/// `lakehouse sql` arguments.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// The statement; `-` or nothing reads it from stdin.
    pub query: Option<String>,
    /// Read the statement from a file.
    #[arg(short = 'f', long, conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// Output format (default: from the -o file's extension, else table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<SqlFormat>,
    /// Write the answer to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Read every dataset as of a catalog version or an RFC 3339 time.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Most rows returned (the server's default otherwise).
    #[arg(long)]
    pub max_rows: Option<u64>,
}

fn statement(a: &SqlArgs) -> Result<String, CliError> {
    let text = match (&a.file, a.query.as_deref()) {
        (Some(f), _) => std::fs::read_to_string(f).map_err(|e| failed(f.display(), e))?,
        (None, Some(q)) if q != "-" => q.to_owned(),
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "no statement: give it as an argument, with -f FILE, or on stdin".into(),
                ));
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| failed("stdin", e))?;
            s
        }
    };
    if text.trim().is_empty() {
        return Err(CliError::Usage("the statement is empty".into()));
    }
    Ok(text)
}

fn format_of(a: &SqlArgs) -> Result<SqlFormat, CliError> {
    if let Some(f) = a.format {
        return Ok(f);
    }
    if let Some(ext) = a
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
    {
        return match ext.to_ascii_lowercase().as_str() {
            "json" => Ok(SqlFormat::Json),
            "ndjson" | "jsonl" => Ok(SqlFormat::Ndjson),
            "csv" => Ok(SqlFormat::Csv),
            "arrow" | "arrows" => Ok(SqlFormat::Arrow),
            "parquet" => Ok(SqlFormat::Parquet),
            other => Err(CliError::Usage(format!(
                "cannot tell the format from .{other}: add --format"
            ))),
        };
    }
    Ok(if std::io::stdout().is_terminal() && a.output.is_none() {
        SqlFormat::Table
    } else {
        SqlFormat::Json
    })
}

/// `as_of` as the API takes it: a number is a catalog version, anything else a time.
pub fn as_of_value(s: &str) -> Value {
    s.parse::<u64>().map_or_else(|_| json!(s), |v| json!(v))
}

/// Runs the command.
pub async fn run(remote: &Remote, a: &SqlArgs) -> Result<(), CliError> {
    let sql = statement(a)?;
    let format = format_of(a)?;
    if matches!(format, SqlFormat::Arrow | SqlFormat::Parquet) {
        refuse_binary_on_terminal(a.output.as_deref(), "this format")?;
    }
    let wire = match format {
        SqlFormat::Table | SqlFormat::Json => "json",
        SqlFormat::Ndjson => "ndjson",
        SqlFormat::Csv => "csv",
        SqlFormat::Arrow => "arrow",
        SqlFormat::Parquet => "parquet",
    };
    let mut body = json!({"sql": sql, "format": wire});
    if let Some(v) = &a.as_of {
        body["as_of"] = as_of_value(v);
    }
    if let Some(n) = a.max_rows {
        body["max_rows"] = json!(n);
    }
    let res = remote
        .send(remote.request(Method::POST, "/sql").json(&body))
        .await?;
    match format {
        SqlFormat::Table => {
            let v: Value = res
                .json()
                .await
                .map_err(|e| failed("the answer is not JSON", e))?;
            print_answer(&v);
            Ok(())
        }
        _ => {
            let mut out = sink(a.output.as_deref())?;
            let mut stream = res.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| failed("reading the answer", e))?;
                out.write_all(&chunk).map_err(|e| failed("writing", e))?;
            }
            out.flush().map_err(|e| failed("writing", e))
        }
    }
}

/// A JSON answer as a table, with a psql-style footer.
fn print_answer(v: &Value) {
    let names: Vec<&str> = v["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    print_table(
        &names,
        rows.iter()
            .map(|r| names.iter().map(|n| cell(&r[*n])).collect()),
    );
    let count = v["row_count"].as_u64().unwrap_or(rows.len() as u64);
    let truncated = if v["truncated"] == true {
        ", truncated: raise --max-rows"
    } else {
        ""
    };
    println!(
        "({count} row{}{truncated}; {} ms; catalog version {})",
        if count == 1 { "" } else { "s" },
        cell(&v["elapsed_ms"]),
        cell(&v["catalog_version"]),
    );
}
