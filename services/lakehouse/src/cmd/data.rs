//! `lakehouse datasets`, `schema`, `history` (the catalog) and `ingest` (CSV files into
//! datasets, with progress).

use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio_util::io::ReaderStream;

use crate::cmd::sql::as_of_value;
use crate::output::{ListFormat, cell, list_format, print_json, print_list, print_table};
use crate::progress::{Progress, rate};
use crate::remote::{CliError, Remote, failed, segment};

/// `lakehouse datasets`: every dataset now or as of a version or time.
pub async fn datasets(
    remote: &Remote,
    as_of: Option<&str>,
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    let path = match as_of {
        None => "/catalog/list".to_owned(),
        Some(v) => match as_of_value(v) {
            Value::Number(n) => format!("/catalog/list?version={n}"),
            _ => format!("/catalog/list?at={}", segment(v)),
        },
    };
    let v = remote.get(&path).await?;
    let items = v["manifests"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Value> = items
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m["name"],
                "rows": m["row_count"],
                "columns": m["schema"].as_array().map_or(0, Vec::len),
                "objects": m["objects"].as_array().map_or(0, Vec::len),
                "version": m["version"],
                "catalog_version": m["catalog_version"],
                "updated_at": m["updated_at"],
            })
        })
        .collect();
    print_list(
        list_format(format),
        &v,
        &rows,
        &[
            "name",
            "rows",
            "columns",
            "objects",
            "version",
            "catalog_version",
            "updated_at",
        ],
    )
}

/// `lakehouse schema NAME`: the dataset's columns.
pub async fn schema(
    remote: &Remote,
    name: &str,
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    let m = remote
        .get(&format!("/catalog/manifest/{}", segment(name)))
        .await?;
    match list_format(format) {
        ListFormat::Json => print_json(&m),
        ListFormat::Table => {
            let cols = m["schema"].as_array().cloned().unwrap_or_default();
            print_table(
                &["column", "type", "nullable"],
                cols.iter()
                    .map(|c| vec![cell(&c["name"]), cell(&c["type"]), cell(&c["nullable"])]),
            );
            println!(
                "{}: {} rows in {} object(s), version {}, catalog version {}",
                cell(&m["name"]),
                cell(&m["row_count"]),
                m["objects"].as_array().map_or(0, Vec::len),
                cell(&m["version"]),
                cell(&m["catalog_version"]),
            );
            Ok(())
        }
    }
}

/// `lakehouse history NAME`: the dataset's snapshots, newest first.
pub async fn history(
    remote: &Remote,
    name: &str,
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    let h = remote
        .get(&format!("/catalog/manifest/{}/history", segment(name)))
        .await?;
    let snaps = h["snapshots"].as_array().cloned().unwrap_or_default();
    print_list(
        list_format(format),
        &h,
        &snaps,
        &[
            "version",
            "op",
            "time",
            "row_count",
            "object_count",
            "exists",
            "rollback_of",
        ],
    )
}

/// `lakehouse ingest` arguments.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// CSV files; each becomes the dataset named after it (its file stem) unless --name is given.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The dataset every file goes into.
    #[arg(long)]
    pub name: Option<String>,
    /// `replace` makes a file the whole dataset, `append` adds it. With --name and several
    /// files under `replace`, the first replaces and the rest append.
    #[arg(long, value_parser = ["replace", "append"], default_value = "replace")]
    pub mode: String,
    /// Field delimiter: one ASCII character, or `tab`.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The first line is data, not column names.
    #[arg(long)]
    pub no_header: bool,
    /// Print each answer as a JSON line instead of a summary.
    #[arg(long)]
    pub json: bool,
}

fn dataset_of(file: &Path) -> Result<String, CliError> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: cannot name a dataset after this file: add --name",
                file.display()
            ))
        })
}

/// Runs `lakehouse ingest`; stops at the first file that fails.
pub async fn ingest(remote: &Remote, a: &IngestArgs) -> Result<(), CliError> {
    for (i, file) in a.files.iter().enumerate() {
        let name = match &a.name {
            Some(n) => n.clone(),
            None => dataset_of(file)?,
        };
        let mode = if a.name.is_some() && i > 0 {
            "append"
        } else {
            a.mode.as_str()
        };
        let answer = ingest_one(remote, a, file, &name, mode).await?;
        if a.json {
            println!("{answer}");
        }
    }
    Ok(())
}

async fn ingest_one(
    remote: &Remote,
    a: &IngestArgs,
    file: &Path,
    name: &str,
    mode: &str,
) -> Result<Value, CliError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| failed(file.display(), e))?;
    let size = f
        .metadata()
        .await
        .map_err(|e| failed(file.display(), e))?
        .len();
    let label = file
        .file_name()
        .map_or_else(|| name.to_owned(), |f| f.to_string_lossy().into_owned());
    let progress = Progress::bytes(&label, Some(size));
    let body =
        reqwest::Body::wrap_stream(progress.counting(ReaderStream::with_capacity(f, 256 << 10)));
    let part = Part::stream_with_length(body, size)
        .file_name(label.clone())
        .mime_str("text/csv")
        .map_err(|e| failed("multipart", e))?;
    let mut query = vec![("name", name.to_owned()), ("mode", mode.to_owned())];
    if let Some(d) = &a.delimiter {
        query.push(("delimiter", d.clone()));
    }
    if a.no_header {
        query.push(("header", "false".to_owned()));
    }
    let req = remote
        .request(Method::POST, "/ingest")
        .query(&query)
        .multipart(Form::new().part("file", part));
    // The server converts once the upload is in; the bar then says so.
    let watcher = {
        let p = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                p.phase_when_done("converting to Parquet");
            }
        })
    };
    let result = remote.json(req).await;
    watcher.abort();
    let elapsed = progress.finish();
    let v = result.map_err(|e| match e {
        CliError::Api {
            status,
            code,
            message,
        } => CliError::Api {
            status,
            code,
            message: format!("{}: {message}", file.display()),
        },
        other => other,
    })?;
    if !a.json {
        let what = if v["existing"] == true {
            "already held, nothing written".to_owned()
        } else {
            format!("{} rows", cell(&v["rows"]))
        };
        println!(
            "{label} → {}: {what}, version {} ({})",
            cell(&v["dataset"]),
            cell(&v["version"]),
            rate(size, elapsed),
        );
    }
    Ok(v)
}
