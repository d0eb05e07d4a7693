//! `lakehouse storage`: list, download, upload and delete objects, with progress.

use std::io::Write;
use std::path::PathBuf;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use crate::output::{ListFormat, list_format, print_list, refuse_binary_on_terminal, sink};
use crate::progress::{Progress, rate};
use crate::remote::{CliError, Remote, failed, key_path, segment};

/// `lakehouse storage …`.
#[derive(Debug, clap::Subcommand)]
pub enum StorageCommand {
    /// Objects whose keys start with PREFIX (every page).
    Ls {
        /// Key prefix (default: everything).
        #[arg(default_value = "")]
        prefix: String,
        /// Stop after this many objects.
        #[arg(long)]
        limit: Option<usize>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// Downloads an object to a file or stdout.
    Get {
        /// The key.
        key: String,
        /// Where to write it (default: stdout, refused on a terminal).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Uploads a file (or stdin, `-`) as an object.
    Put {
        /// The key.
        key: String,
        /// The file to upload; `-` reads stdin.
        file: PathBuf,
    },
    /// Deletes an object.
    Rm {
        /// The key.
        key: String,
    },
}

/// Runs `lakehouse storage …`.
pub async fn run(remote: &Remote, cmd: &StorageCommand) -> Result<(), CliError> {
    match cmd {
        StorageCommand::Ls {
            prefix,
            limit,
            format,
        } => ls(remote, prefix, *limit, *format).await,
        StorageCommand::Get { key, output } => get(remote, key, output.as_ref()).await,
        StorageCommand::Put { key, file } => put(remote, key, file).await,
        StorageCommand::Rm { key } => {
            let path = format!("/storage/objects/{}", key_path(key));
            remote.send(remote.request(Method::DELETE, &path)).await?;
            println!("deleted {key}");
            Ok(())
        }
    }
}

async fn ls(
    remote: &Remote,
    prefix: &str,
    limit: Option<usize>,
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    let mut objects: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut truncated = false;
    loop {
        let mut path = format!("/storage/list?prefix={}&limit=1000", segment(prefix));
        if let Some(a) = &after {
            path.push_str(&format!("&after={}", segment(a)));
        }
        let page = remote.get(&path).await?;
        objects.extend(page["objects"].as_array().cloned().unwrap_or_default());
        if limit.is_some_and(|l| objects.len() >= l) {
            truncated = objects.len() > limit.unwrap_or(0) || page["truncated"] == true;
            objects.truncate(limit.unwrap_or(usize::MAX));
            break;
        }
        match page["next_after"].as_str() {
            Some(n) if page["truncated"] == true => after = Some(n.to_owned()),
            _ => break,
        }
    }
    let whole = json!({"objects": objects, "count": objects.len(), "truncated": truncated});
    print_list(
        list_format(format),
        &whole,
        &objects,
        &["key", "size", "last_modified", "etag"],
    )?;
    if truncated && list_format(format) == ListFormat::Table {
        eprintln!("(more objects match: raise --limit)");
    }
    Ok(())
}

async fn get(remote: &Remote, key: &str, output: Option<&PathBuf>) -> Result<(), CliError> {
    refuse_binary_on_terminal(output.map(PathBuf::as_path), "an object")?;
    let path = format!("/storage/objects/{}", key_path(key));
    let res = remote.send(remote.request(Method::GET, &path)).await?;
    let progress = Progress::bytes(key, res.content_length());
    let mut out = sink(output.map(PathBuf::as_path))?;
    let mut stream = res.bytes_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(format!("downloading {key}"), e))?;
        out.write_all(&chunk).map_err(|e| failed("writing", e))?;
        n += chunk.len() as u64;
        progress.inc(chunk.len() as u64);
    }
    out.flush().map_err(|e| failed("writing", e))?;
    let elapsed = progress.finish();
    if let Some(p) = output {
        println!("{key} → {}: {}", p.display(), rate(n, elapsed));
    }
    Ok(())
}

async fn put(remote: &Remote, key: &str, file: &PathBuf) -> Result<(), CliError> {
    let (body, size) = if file.as_os_str() == "-" {
        // stdin has no length: read it whole (the gateway caps objects anyway).
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| failed("stdin", e))?;
        let n = buf.len() as u64;
        (reqwest::Body::from(buf), n)
    } else {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| failed(file.display(), e))?;
        let n = f
            .metadata()
            .await
            .map_err(|e| failed(file.display(), e))?
            .len();
        let progress = Progress::bytes(key, Some(n));
        let body = reqwest::Body::wrap_stream(
            progress.counting(ReaderStream::with_capacity(f, 256 << 10)),
        );
        let path = format!("/storage/objects/{}", key_path(key));
        let req = remote
            .request(Method::PUT, &path)
            .header(reqwest::header::CONTENT_LENGTH, n)
            .body(body);
        let v = remote.json(req).await;
        let elapsed = progress.finish();
        let v = v?;
        println!(
            "{file} → {key}: {}, etag {}",
            rate(n, elapsed),
            v["etag"],
            file = file.display()
        );
        return Ok(());
    };
    let path = format!("/storage/objects/{}", key_path(key));
    let v = remote
        .json(remote.request(Method::PUT, &path).body(body))
        .await?;
    println!("stdin → {key}: {size} bytes, etag {}", v["etag"]);
    Ok(())
}
