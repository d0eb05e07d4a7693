//! Where a command's answer goes and how it looks: a table for a person at a terminal, JSON
//! (or the format asked for) for a pipe or a file.

use std::io::{IsTerminal, Write};
use std::path::Path;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

use crate::remote::{CliError, failed};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Columns for reading (the default on a terminal).
    Table,
    /// The gateway's JSON answer (the default in a pipe).
    Json,
}

/// The format to use: the one asked for, else a table on a terminal and JSON otherwise.
pub fn list_format(asked: Option<ListFormat>) -> ListFormat {
    asked.unwrap_or(if std::io::stdout().is_terminal() {
        ListFormat::Table
    } else {
        ListFormat::Json
    })
}

/// A cell's text: strings bare, null empty, everything else as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints `rows` under `header` as a table on stdout.
pub fn print_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    // Long cells wrap to the terminal's width instead of breaking every line.
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        t.set_width(w);
    }
    for r in rows {
        t.add_row(r);
    }
    println!("{t}");
}

/// Prints a JSON value, pretty, on stdout.
pub fn print_json(v: &Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| failed("stdout", e))?;
    writeln!(out).map_err(|e| failed("stdout", e))
}

/// A listing as a table of `columns` (JSON field names, shown as headers), or as JSON.
pub fn print_list(
    format: ListFormat,
    whole: &Value,
    items: &[Value],
    columns: &[&str],
) -> Result<(), CliError> {
    match format {
        ListFormat::Json => print_json(whole),
        ListFormat::Table => {
            print_table(
                columns,
                items
                    .iter()
                    .map(|i| columns.iter().map(|c| cell(&i[*c])).collect()),
            );
            Ok(())
        }
    }
}

/// The destination of bytes: a file (created or truncated) or stdout.
pub fn sink(path: Option<&Path>) -> Result<Box<dyn Write + Send>, CliError> {
    Ok(match path {
        Some(p) if p != Path::new("-") => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| failed(p.display(), e))?,
        )),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

/// Refuses to write binary output to a terminal, as `curl` and `gzip` do.
pub fn refuse_binary_on_terminal(path: Option<&Path>, what: &str) -> Result<(), CliError> {
    let to_stdout = path.is_none_or(|p| p == Path::new("-"));
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(CliError::Usage(format!(
            "{what} is binary: write it to a file with -o FILE or into a pipe"
        )));
    }
    Ok(())
}
