//! `lakehouse vectors`: list, show, create, delete and search indexes, and bulk-load items from
//! JSON lines or Parquet with progress.
//!
//! An item is a row with `id` (string or number), `vector` (numbers) and, optionally,
//! `metadata` (an object, or a string holding one); every other field of the row is merged
//! into the metadata, so a Parquet file's extra columns become searchable metadata.

use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio::io::AsyncBufReadExt;

use crate::cmd::sql::as_of_value;
use crate::output::{ListFormat, list_format, print_json, print_list};
use crate::progress::Progress;
use crate::remote::{CliError, Remote, failed, segment};

/// `lakehouse vectors …`.
#[derive(Debug, clap::Subcommand)]
pub enum VectorsCommand {
    /// Every index with its parameters and size.
    List {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// One index's parameters and size (JSON).
    Show {
        /// The index.
        name: String,
    },
    /// Creates an index.
    Create {
        /// The index.
        name: String,
        /// Vector length.
        #[arg(long)]
        dimension: u32,
        /// How distance is measured (the server's default: cosine).
        #[arg(long, value_parser = ["cosine", "euclidean"])]
        distance: Option<String>,
        /// Graph degree.
        #[arg(long)]
        m: Option<u32>,
        /// Candidates while building.
        #[arg(long)]
        ef_construction: Option<u32>,
        /// Candidates while searching.
        #[arg(long)]
        ef_search: Option<u32>,
    },
    /// Deletes an index and its stored state.
    Delete {
        /// The index.
        name: String,
    },
    /// The nearest items to a vector, or to a text embedded by the fleet's /v1/embeddings.
    Search(SearchArgs),
    /// Adds every item of a JSONL or Parquet file, in batches.
    Load(LoadArgs),
}

/// `lakehouse vectors search` arguments.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The index.
    pub name: String,
    /// The query vector as JSON, e.g. `[0.1, 0.2]`.
    #[arg(long, conflicts_with = "text", required_unless_present = "text")]
    pub vector: Option<String>,
    /// A text to embed with the fleet's embeddings model (needs `[embed] url`).
    #[arg(long)]
    pub text: Option<String>,
    /// The embeddings model to ask for with --text.
    #[arg(long)]
    pub model: Option<String>,
    /// How many results.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Candidates examined (default: the index's ef_search).
    #[arg(long)]
    pub ef: Option<usize>,
    /// Metadata filter as JSON, e.g. `{"kind":"openai_chat"}`, applied inside the search.
    #[arg(long)]
    pub filter: Option<String>,
    /// Ids never returned (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Search the index as committed at a catalog version or RFC 3339 time.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

/// `lakehouse vectors load` arguments.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The index.
    pub name: String,
    /// `.jsonl` / `.ndjson` (one item per line) or `.parquet`.
    pub file: PathBuf,
    /// Items per request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Create the index if it does not exist (dimension from the first item).
    #[arg(long)]
    pub create: bool,
}

fn parse_json(flag: &str, text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text).map_err(|e| CliError::Usage(format!("--{flag}: not JSON: {e}")))
}

/// Runs `lakehouse vectors …`.
pub async fn run(remote: &Remote, cmd: &VectorsCommand) -> Result<(), CliError> {
    match cmd {
        VectorsCommand::List { format } => list(remote, *format).await,
        VectorsCommand::Show { name } => print_json(
            &remote
                .get(&format!("/vectors/index/{}", segment(name)))
                .await?,
        ),
        VectorsCommand::Create {
            name,
            dimension,
            distance,
            m,
            ef_construction,
            ef_search,
        } => {
            let mut body = json!({"name": name, "dimension": dimension});
            for (k, v) in [
                ("m", m),
                ("ef_construction", ef_construction),
                ("ef_search", ef_search),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(d) = distance {
                body["distance"] = json!(d);
            }
            let v = remote
                .json(remote.request(Method::POST, "/vectors/index").json(&body))
                .await?;
            print_json(&v)
        }
        VectorsCommand::Delete { name } => {
            let path = format!("/vectors/index/{}", segment(name));
            remote.send(remote.request(Method::DELETE, &path)).await?;
            println!("deleted index {name}");
            Ok(())
        }
        VectorsCommand::Search(a) => search(remote, a).await,
        VectorsCommand::Load(a) => load(remote, a).await,
    }
}

async fn list(remote: &Remote, format: Option<ListFormat>) -> Result<(), CliError> {
    let v = remote.get("/vectors/index").await?;
    let format = list_format(format);
    if format == ListFormat::Json {
        return print_json(&v);
    }
    let names: Vec<String> = v["names"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let infos = futures::future::join_all(names.iter().map(|n| {
        let path = format!("/vectors/index/{}", segment(n));
        async move { remote.get(&path).await }
    }))
    .await;
    let mut rows = Vec::new();
    for (name, info) in names.iter().zip(infos) {
        let i = info?;
        let p = &i["params"];
        rows.push(json!({
            "name": name, "dimension": p["dimension"], "distance": p["distance"],
            "m": p["m"], "ef_construction": p["ef_construction"], "ef_search": p["ef_search"],
            "length": i["length"], "tombstones": i["tombstones"], "version": i["version"],
        }));
    }
    let cols = [
        "name",
        "dimension",
        "distance",
        "m",
        "ef_construction",
        "ef_search",
        "length",
        "tombstones",
        "version",
    ];
    print_list(format, &v, &rows, &cols)
}

async fn search(remote: &Remote, a: &SearchArgs) -> Result<(), CliError> {
    let vector = match (&a.vector, &a.text) {
        (Some(v), _) => parse_json("vector", v)?,
        (None, Some(t)) => embed(remote, t, a.model.as_deref()).await?,
        (None, None) => return Err(CliError::Usage("give --vector or --text".into())),
    };
    let mut body = json!({"vector": vector, "k": a.k});
    if let Some(ef) = a.ef {
        body["ef"] = json!(ef);
    }
    if let Some(f) = &a.filter {
        body["filter"] = parse_json("filter", f)?;
    }
    if !a.exclude.is_empty() {
        body["exclude_ids"] = json!(a.exclude);
    }
    if let Some(v) = &a.as_of {
        body["as_of"] = as_of_value(v);
    }
    let path = format!("/vectors/index/{}/search", segment(&a.name));
    let v = remote
        .json(remote.request(Method::POST, &path).json(&body))
        .await?;
    let results: Vec<Value> = v["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, h)| {
                    json!({"rank": i + 1, "id": h["id"], "distance": h["distance"],
                           "metadata": if h["metadata"].is_null() { Value::Null } else { json!(h["metadata"].to_string()) }})
                })
                .collect()
        })
        .unwrap_or_default();
    print_list(
        list_format(a.format),
        &v,
        &results,
        &["rank", "id", "distance", "metadata"],
    )
}

async fn embed(remote: &Remote, text: &str, model: Option<&str>) -> Result<Value, CliError> {
    let mut body = json!({"input": [text]});
    if let Some(m) = model {
        body["model"] = json!(m);
    }
    let v = remote
        .json(remote.request(Method::POST, "/embeddings").json(&body))
        .await?;
    let e = v["data"][0]["embedding"].clone();
    if !e.is_array() {
        return Err(CliError::Failed(
            "the embeddings answer has no data[0].embedding".into(),
        ));
    }
    Ok(e)
}

/// An item of the `add` request from one row, or why not.
fn item_of(row: Value) -> Result<Value, String> {
    let Value::Object(mut row) = row else {
        return Err("not a JSON object".into());
    };
    let id = match row.remove("id") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err("`id` must be a string or a number".into()),
        None => return Err("no `id`".into()),
    };
    let Some(vector @ Value::Array(_)) = row.remove("vector") else {
        return Err(format!("item {id}: no `vector` array"));
    };
    let mut metadata = match row.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(format!("item {id}: `metadata` is not a JSON object")),
        },
        Some(_) => return Err(format!("item {id}: `metadata` is not an object")),
    };
    metadata.extend(row);
    let mut item = json!({"id": id, "vector": vector});
    if !metadata.is_empty() {
        item["metadata"] = Value::Object(metadata);
    }
    Ok(item)
}

/// Where `load` sends batches, creating the index on the first one if asked.
struct Loader<'a> {
    remote: &'a Remote,
    name: &'a str,
    create: bool,
    added: u64,
}

impl Loader<'_> {
    async fn send(&mut self, items: Vec<Value>) -> Result<(), CliError> {
        if items.is_empty() {
            return Ok(());
        }
        if self.create {
            self.create = false;
            let info = format!("/vectors/index/{}", segment(self.name));
            if let Err(CliError::Api { status: 404, .. }) = self.remote.get(&info).await {
                let dim = items[0]["vector"].as_array().map_or(0, Vec::len);
                let body = json!({"name": self.name, "dimension": dim});
                self.remote
                    .send(
                        self.remote
                            .request(Method::POST, "/vectors/index")
                            .json(&body),
                    )
                    .await?;
            }
        }
        let path = format!("/vectors/index/{}/add", segment(self.name));
        let n = items.len() as u64;
        self.remote
            .send(
                self.remote
                    .request(Method::POST, &path)
                    .json(&json!({"items": items})),
            )
            .await?;
        self.added += n;
        Ok(())
    }
}

async fn load(remote: &Remote, a: &LoadArgs) -> Result<(), CliError> {
    if a.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    let mut loader = Loader {
        remote,
        name: &a.name,
        create: a.create,
        added: 0,
    };
    let ext = a.file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let progress = match ext {
        "parquet" => load_parquet(&mut loader, &a.file, a.batch).await?,
        "jsonl" | "ndjson" | "json" => load_jsonl(&mut loader, &a.file, a.batch).await?,
        other => {
            return Err(CliError::Usage(format!(
                "{}: .{other} is neither .jsonl nor .parquet",
                a.file.display()
            )));
        }
    };
    let secs = progress.finish().as_secs_f64().max(1e-3);
    println!(
        "{} → {}: {} items added in {secs:.1} s ({:.0} items/s)",
        a.file.display(),
        a.name,
        loader.added,
        loader.added as f64 / secs
    );
    Ok(())
}

async fn load_jsonl(
    loader: &mut Loader<'_>,
    file: &Path,
    batch: usize,
) -> Result<Progress, CliError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| failed(file.display(), e))?;
    let size = f
        .metadata()
        .await
        .map_err(|e| failed(file.display(), e))?
        .len();
    let progress = Progress::bytes(&file.display().to_string(), Some(size));
    let mut lines = tokio::io::BufReader::new(f).lines();
    let mut items = Vec::with_capacity(batch);
    let mut n = 0u64;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| failed(file.display(), e))?
    {
        n += 1;
        progress.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(item_of)
            .map_err(|e| bad_row(file, "line", n, &e, loader.added))?;
        items.push(row);
        if items.len() == batch {
            loader.send(std::mem::take(&mut items)).await?;
        }
    }
    loader.send(items).await?;
    Ok(progress)
}

fn bad_row(file: &Path, unit: &str, n: u64, e: &str, added: u64) -> CliError {
    CliError::Usage(format!(
        "{}, {unit} {n}: {e} ({added} items were added before it)",
        file.display()
    ))
}

async fn load_parquet(
    loader: &mut Loader<'_>,
    file: &Path,
    batch: usize,
) -> Result<Progress, CliError> {
    let f = std::fs::File::open(file).map_err(|e| failed(file.display(), e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| failed(file.display(), e))?;
    let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = builder
        .with_batch_size(batch)
        .build()
        .map_err(|e| failed(file.display(), e))?;
    let progress = Progress::items(&file.display().to_string(), Some(total), "rows");
    let mut row_no = 0u64;
    for b in reader {
        let b = b.map_err(|e| failed(file.display(), e))?;
        let mut w = arrow_json::ArrayWriter::new(Vec::new());
        w.write(&b).map_err(|e| failed(file.display(), e))?;
        w.finish().map_err(|e| failed(file.display(), e))?;
        let rows: Vec<Value> = serde_json::from_slice(&w.into_inner()).unwrap_or_default();
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            row_no += 1;
            items.push(item_of(row).map_err(|e| bad_row(file, "row", row_no, &e, loader.added))?);
        }
        progress.inc(items.len() as u64);
        loader.send(items).await?;
    }
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_items_with_their_other_fields_as_metadata() {
        let item =
            item_of(json!({"id": 7, "vector": [1.0, 2.0], "metadata": "{\"a\":1}", "kind": "x"}))
                .unwrap_or_default();
        assert_eq!(
            item,
            json!({"id": "7", "vector": [1.0, 2.0], "metadata": {"a": 1, "kind": "x"}})
        );
        assert!(
            item_of(json!({"vector": [1.0]}))
                .unwrap_err()
                .contains("no `id`")
        );
        assert!(item_of(json!({"id": "a"})).unwrap_err().contains("vector"));
        assert!(item_of(json!({"id": "a", "vector": [1], "metadata": 3})).is_err());
    }
}
