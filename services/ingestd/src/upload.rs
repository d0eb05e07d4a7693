//! Receives the multipart `file` field straight to a temporary file, hashing and scanning it
//! on two threads as chunks arrive, so a large CSV is never held in memory and is fully
//! checked the moment the upload ends.

use std::io::Write;
use std::path::Path;

use axum::body::Bytes;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use lakehouse_common::ApiError;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use tokio::sync::mpsc::{Receiver, Sender, channel};

use crate::scan::{Scan, ScanError, Scanner};

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Chunks in flight per worker thread.
const QUEUE: usize = 8;

/// A received and scanned CSV.
#[derive(Debug)]
pub struct Received {
    /// The CSV (without a UTF-8 BOM), removed on drop.
    pub file: NamedTempFile,
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// Bytes received.
    pub bytes: u64,
    /// Columns, types and rows.
    pub scan: Scan,
}

fn multipart_error(e: &MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(format!("upload too large: {}", e.body_text()))
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
            .with_code("bad_multipart")
    }
}

/// Reads the multipart body; the `file` field is required and must not be empty.
pub async fn receive(
    mut multipart: Multipart,
    tmp_dir: &Path,
    delimiter: u8,
    header: bool,
    max_bytes: u64,
) -> Result<Received, ApiError> {
    let mut received = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        if field.name() != Some("file") {
            // Unknown fields are drained and ignored.
            while field
                .chunk()
                .await
                .map_err(|e| multipart_error(&e))?
                .is_some()
            {}
            continue;
        }
        if received.is_some() {
            return Err(ApiError::bad_request(
                "the multipart body has two `file` fields",
            ));
        }
        let file = NamedTempFile::new_in(tmp_dir)
            .map_err(|e| ApiError::internal(format!("temp file in {}: {e}", tmp_dir.display())))?;
        let pipeline = Pipeline::start(&file, delimiter, header)?;
        received = Some(pipeline.run(&mut field, max_bytes, file).await?);
    }
    received.ok_or_else(|| {
        ApiError::bad_request("the multipart body has no `file` field").with_code("missing_file")
    })
}

struct Pipeline {
    to_writer: Sender<Bytes>,
    to_scanner: Sender<Bytes>,
    writer: std::thread::JoinHandle<std::io::Result<String>>,
    scanner: std::thread::JoinHandle<Result<Scan, ScanError>>,
}

impl Pipeline {
    fn start(file: &NamedTempFile, delimiter: u8, header: bool) -> Result<Self, ApiError> {
        let out = file
            .reopen()
            .map_err(|e| ApiError::internal(format!("reopen temp file: {e}")))?;
        let (to_writer, mut writer_rx) = channel::<Bytes>(QUEUE);
        let (to_scanner, mut scanner_rx) = channel::<Bytes>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("ingest-write".into())
            .spawn(move || write_and_hash(out, &mut writer_rx))
            .map_err(ApiError::internal)?;
        let scanner = std::thread::Builder::new()
            .name("ingest-scan".into())
            .spawn(move || {
                let mut s = Scanner::new(delimiter, header);
                while let Some(chunk) = scanner_rx.blocking_recv() {
                    s.feed(&chunk)?;
                }
                s.finish()
            })
            .map_err(ApiError::internal)?;
        Ok(Self {
            to_writer,
            to_scanner,
            writer,
            scanner,
        })
    }

    async fn run(
        self,
        field: &mut axum::extract::multipart::Field<'_>,
        max_bytes: u64,
        file: NamedTempFile,
    ) -> Result<Received, ApiError> {
        let Self {
            to_writer,
            to_scanner,
            writer,
            scanner,
        } = self;
        let mut bytes = 0u64;
        let mut head: Vec<u8> = Vec::new();
        let mut head_done = false;
        let mut failure = None;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(multipart_error(&e));
                    break;
                }
            };
            bytes += chunk.len() as u64;
            if bytes > max_bytes {
                failure = Some(ApiError::payload_too_large(format!(
                    "the file is larger than ingestd.max_upload_bytes ({max_bytes} bytes)"
                )));
                break;
            }
            // The BOM is dropped before anything sees the bytes.
            let chunk = if head_done {
                chunk
            } else {
                head.extend_from_slice(&chunk);
                if head.len() < BOM.len() {
                    continue;
                }
                head_done = true;
                let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
                Bytes::from(std::mem::take(&mut head)).slice(start..)
            };
            if !send(&to_writer, &to_scanner, chunk).await {
                break;
            }
        }
        if failure.is_none() && !head_done && !head.is_empty() {
            let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
            send(&to_writer, &to_scanner, Bytes::from(head).slice(start..)).await;
        }
        drop(to_writer);
        drop(to_scanner);
        let joined = tokio::task::spawn_blocking(move || (writer.join(), scanner.join()))
            .await
            .map_err(ApiError::internal)?;
        if let Some(f) = failure {
            return Err(f);
        }
        let sha256 = match joined.0 {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return Err(ApiError::internal(format!("writing the upload: {e}"))),
            Err(_) => return Err(ApiError::internal("upload writer panicked")),
        };
        let scan = match joined.1 {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(ApiError::bad_request(e.0).with_code("invalid_csv")),
            Err(_) => return Err(ApiError::internal("CSV scanner panicked")),
        };
        Ok(Received {
            file,
            sha256,
            bytes,
            scan,
        })
    }
}

/// Hands a chunk to both workers (waiting when they are behind, which is back-pressure on the
/// client). False once the scanner has stopped on an error: reading on is pointless.
async fn send(to_writer: &Sender<Bytes>, to_scanner: &Sender<Bytes>, chunk: Bytes) -> bool {
    if chunk.is_empty() {
        return true;
    }
    if to_scanner.send(chunk.clone()).await.is_err() {
        return false;
    }
    to_writer.send(chunk).await.is_ok()
}

fn write_and_hash(file: std::fs::File, rx: &mut Receiver<Bytes>) -> std::io::Result<String> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hash = Sha256::new();
    while let Some(chunk) = rx.blocking_recv() {
        hash.update(&chunk);
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(hex::encode(hash.finalize()))
}
