//! One ingest, start to end: receive and scan, skip if these bytes are already in the dataset,
//! convert, store, register. On any failure nothing is half-done: temp files are removed on
//! drop, and an object stored but never registered is left to catalogd's garbage collection
//! (deleting it here could pull it from under a concurrent ingest of the same rows).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Multipart;
use lakehouse_client::{CatalogClient, ClientError, StorageClient};
use lakehouse_common::{ApiError, request_id};
use lakehouse_types::{
    AppendRequest, Column, DataObject, IngestResponse, Manifest, ObjectKey, RegisterRequest,
    RegisterResponse, dataset_name_error,
};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::conform::conform;
use crate::convert::{self, Limits};
use crate::figures::Figures;
use crate::scan::Scan;
use crate::upload;

/// `replace` makes the file the whole dataset; `append` adds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The dataset becomes this file.
    Replace,
    /// The file is added to the dataset (which is created if missing).
    Append,
}

/// Validated query parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Dataset name.
    pub name: String,
    /// Replace or append.
    pub mode: Mode,
    /// Field delimiter.
    pub delimiter: u8,
    /// Whether the first row names the columns.
    pub header: bool,
}

impl Params {
    /// Parses `name`, `mode`, `delimiter`, `header`; anything else is refused.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        let (mut name, mut mode, mut delimiter, mut header) = (None, Mode::Replace, b',', true);
        for (k, v) in pairs {
            match k.as_str() {
                "name" => name = Some(v),
                "mode" => {
                    mode = match v.as_str() {
                        "replace" => Mode::Replace,
                        "append" => Mode::Append,
                        _ => {
                            return Err(ApiError::bad_request(format!(
                                "mode must be 'replace' or 'append', not '{v}'"
                            )));
                        }
                    };
                }
                "delimiter" => {
                    delimiter = match v.as_str() {
                        "\\t" | "tab" | "\t" => b'\t',
                        s if s.len() == 1 && !matches!(s, "\"" | "\n" | "\r") && s.is_ascii() => {
                            s.as_bytes()[0]
                        }
                        _ => {
                            return Err(ApiError::bad_request(format!(
                                "delimiter must be one ASCII character (or 'tab'), not '{}'",
                                v.escape_default()
                            )));
                        }
                    };
                }
                "header" => {
                    header = match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(ApiError::bad_request(format!(
                                "header must be true or false, not '{v}'"
                            )));
                        }
                    };
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter '{other}' (expected name, mode, delimiter, header)"
                    )));
                }
            }
        }
        let name =
            name.ok_or_else(|| ApiError::bad_request("the `name` query parameter is required"))?;
        if let Some(e) = dataset_name_error(&name) {
            return Err(ApiError::bad_request(e).with_code("invalid_name"));
        }
        Ok(Self {
            name,
            mode,
            delimiter,
            header,
        })
    }
}

pub use lakehouse_types::schema_fingerprint;

/// The content hash naming the object: the CSV's sha256, mixed with the options when they
/// are not the defaults (the same bytes read another way are other data).
fn object_hash(content_sha: &str, p: &Params) -> String {
    if p.delimiter == b',' && p.header {
        return content_sha.to_owned();
    }
    let mut h = Sha256::new();
    h.update(content_sha.as_bytes());
    h.update(format!(";delimiter={};header={}", p.delimiter, p.header).as_bytes());
    hex::encode(h.finalize())
}

/// ingestd's shared state.
#[derive(Debug)]
pub struct Ingestor {
    /// storaged.
    pub storage: StorageClient,
    /// catalogd.
    pub catalog: CatalogClient,
    /// Staging directory.
    pub tmp_dir: PathBuf,
    /// Upload cap.
    pub max_upload_bytes: u64,
    /// DuckDB limits.
    pub limits: Limits,
    /// Conversion slots.
    pub slots: Semaphore,
    /// Metrics.
    pub figures: Figures,
    names: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn catalog_error(e: &ClientError) -> ApiError {
    match e {
        ClientError::Status {
            status,
            message,
            code,
            ..
        } if *status == StatusCode::CONFLICT || *status == StatusCode::BAD_REQUEST => {
            ApiError::new(*status, code.clone(), message.clone())
        }
        _ => ApiError::bad_gateway(format!("catalogd: {e}")).with_code("catalog_unavailable"),
    }
}

fn storage_error(e: &ClientError) -> ApiError {
    ApiError::bad_gateway(format!("storaged: {e}")).with_code("storage_unavailable")
}

/// DuckDB refusing the rows is the file's fault; running out of memory or anything else is ours.
fn convert_error(e: &str) -> ApiError {
    if e.starts_with("Out of Memory Error") {
        ApiError::unavailable(format!(
            "not enough memory to convert the CSV (ingestd.memory_limit_mb): {e}"
        ))
        .with_code("insufficient_memory")
    } else if e.starts_with("Invalid Input Error") || e.starts_with("Conversion Error") {
        ApiError::bad_request(format!("cannot convert the CSV: {e}")).with_code("invalid_csv")
    } else {
        ApiError::internal(format!("converting the CSV: {e}"))
    }
}

fn columns_of(scan: &Scan) -> Vec<Column> {
    scan.columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            ty: c.sql_type.to_owned(),
            nullable: c.nullable,
        })
        .collect()
}

fn describe(cols: &[Column]) -> String {
    cols.iter()
        .map(|c| format!("{} {}", c.name, c.ty))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ingestor {
    /// State for ingestd.
    pub fn new(
        storage: StorageClient,
        catalog: CatalogClient,
        tmp_dir: PathBuf,
        max_upload_bytes: u64,
        limits: Limits,
        slots: usize,
        figures: Figures,
    ) -> Self {
        Self {
            storage,
            catalog,
            tmp_dir,
            max_upload_bytes,
            limits,
            slots: Semaphore::new(slots),
            figures,
            names: Mutex::default(),
        }
    }

    fn name_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names.entry(name.to_ascii_lowercase()).or_default().clone()
    }

    /// The whole ingest.
    pub async fn ingest(
        &self,
        p: Params,
        multipart: Multipart,
        started: Instant,
    ) -> Result<IngestResponse, ApiError> {
        let rid = request_id::current().unwrap_or_else(request_id::generate);
        let mut received = upload::receive(
            multipart,
            &self.tmp_dir,
            p.delimiter,
            p.header,
            self.max_upload_bytes,
        )
        .await?;
        let received_ms = started.elapsed().as_millis() as u64;
        self.figures.phase("receive", started.elapsed());
        self.figures.received(received.bytes);
        let mut schema = columns_of(&received.scan);
        let mut fingerprint = schema_fingerprint(&schema);
        let key_str = format!(
            "datasets/{}/{}.parquet",
            p.name,
            object_hash(&received.sha256, &p)
        );
        let key = ObjectKey::parse(key_str.clone()).map_err(ApiError::internal)?;
        // One ingest per dataset at a time: the check below and the register stay consistent.
        let lock = self.name_lock(&p.name);
        let _guard = lock.lock().await;
        let current = self
            .catalog
            .manifest(&p.name, &rid)
            .await
            .map_err(|e| catalog_error(&e))?;
        if let Some(m) = &current
            && m.schema_fingerprint != fingerprint
            && p.mode == Mode::Append
        {
            // An append whose values all fit the dataset's columns is written in the
            // dataset's types (whole numbers into a DOUBLE column, dates into TIMESTAMP,
            // anything into VARCHAR); only a real conflict is refused.
            received.scan.columns = conform(&received.scan.columns, &m.schema).map_err(|e| {
                ApiError::conflict(format!("cannot append to dataset '{}': {e}", p.name))
                    .with_code("schema_mismatch")
            })?;
            schema = columns_of(&received.scan);
            fingerprint = schema_fingerprint(&schema);
        }
        let rows = received.scan.rows;
        let answer = |m: &Manifest, existing: bool| IngestResponse {
            dataset: p.name.clone(),
            schema_fingerprint: fingerprint.clone(),
            schema: schema.clone(),
            rows,
            object_key: key_str.clone(),
            version: m.version,
            catalog_version: m.catalog_version,
            existing,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };

        if let Some(m) = &current {
            if m.schema_fingerprint != fingerprint {
                return Err(ApiError::conflict(format!(
                    "the file's schema ({}) differs from dataset '{}' ({}); delete the dataset to change its schema",
                    describe(&schema),
                    p.name,
                    describe(&m.schema)
                ))
                .with_code("schema_mismatch"));
            }
            let present = m.objects.iter().any(|o| o.key == key_str);
            let same = match p.mode {
                Mode::Replace => present && m.objects.len() == 1,
                Mode::Append => present,
            };
            if same {
                return Ok(answer(m, true));
            }
        }

        let parquet = tempfile::Builder::new()
            .suffix(".parquet")
            .tempfile_in(&self.tmp_dir)
            .map_err(ApiError::internal)?;
        let convert_started = Instant::now();
        let size = {
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|_| ApiError::unavailable("ingestd is shutting down"))?;
            let (csv, out) = (received.file.path().to_owned(), parquet.path().to_owned());
            let (delimiter, header, limits) = (p.delimiter, p.header, self.limits);
            let columns = received.scan.columns.clone();
            let written = tokio::task::spawn_blocking(move || {
                convert::csv_to_parquet(&csv, &out, delimiter, header, &columns, limits)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| convert_error(&e))?;
            if written != rows {
                return Err(ApiError::internal(format!(
                    "DuckDB wrote {written} rows but the scan counted {rows}"
                )));
            }
            drop(received);
            std::fs::metadata(parquet.path())
                .map_err(ApiError::internal)?
                .len()
        };

        let convert_ms = convert_started.elapsed().as_millis() as u64;
        self.figures.phase("convert", convert_started.elapsed());
        let store_started = Instant::now();
        // Content-addressed: an object already stored under this key holds these rows.
        let existed = self
            .storage
            .head(&key, &rid)
            .await
            .map_err(|e| storage_error(&e))?
            .is_some();
        if !existed {
            self.upload(parquet.path(), &key, &rid).await?;
        }

        let object = DataObject {
            key: key_str.clone(),
            size,
            row_count: rows,
        };
        let mut result = self
            .register(
                &p,
                current.is_some(),
                &fingerprint,
                &schema,
                object.clone(),
                &rid,
            )
            .await;
        // The object existed but garbage collection deleted it just now (it was no longer
        // referenced): store it again and register once more.
        if matches!(&result, Err(ClientError::Status { code, .. }) if code == "object_collected") {
            self.upload(parquet.path(), &key, &rid).await?;
            result = self
                .register(&p, current.is_some(), &fingerprint, &schema, object, &rid)
                .await;
        }
        drop(parquet);
        let result = result.map_err(|e| catalog_error(&e));
        match result {
            Ok(r) => {
                self.figures.phase("store", store_started.elapsed());
                self.figures.written(rows, size);
                tracing::info!(
                    dataset = %p.name,
                    rows,
                    version = r.manifest.version,
                    key = %key_str,
                    received_ms,
                    convert_ms,
                    store_ms = store_started.elapsed().as_millis() as u64,
                    "ingested"
                );
                Ok(answer(&r.manifest, false))
            }
            // The object stays: a concurrent ingest of the same rows may have registered it,
            // and catalogd's garbage collection removes it after the grace period if not.
            Err(e) => Err(e),
        }
    }

    async fn register(
        &self,
        p: &Params,
        exists: bool,
        fingerprint: &str,
        schema: &[Column],
        object: DataObject,
        rid: &str,
    ) -> Result<RegisterResponse, ClientError> {
        if p.mode == Mode::Append && exists {
            self.catalog
                .append(
                    &AppendRequest {
                        name: p.name.clone(),
                        schema_fingerprint: fingerprint.to_owned(),
                        objects: vec![object],
                        schema: schema.to_vec(),
                        create: false,
                        expected_version: None,
                    },
                    rid,
                )
                .await
        } else {
            let row_count = object.row_count;
            self.catalog
                .register(
                    &RegisterRequest {
                        name: p.name.clone(),
                        schema_fingerprint: fingerprint.to_owned(),
                        schema: schema.to_vec(),
                        objects: vec![object],
                        row_count: Some(row_count),
                        expected_version: None,
                    },
                    rid,
                )
                .await
        }
    }

    async fn upload(
        &self,
        path: &std::path::Path,
        key: &ObjectKey,
        rid: &str,
    ) -> Result<(), ApiError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(ApiError::internal)?;
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
        self.storage
            .put(key, body, rid)
            .await
            .map_err(|e| storage_error(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A conversion that runs out of memory is a 503 for the operator, not the uploader's 400.
    #[test]
    fn conversion_errors_name_the_right_party() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("wide.csv");
        let mut text = String::from("id,word\n");
        for i in 0..300_000 {
            text.push_str(&format!("{i},word-{i}-{}\n", "x".repeat(40)));
        }
        std::fs::write(&csv, text).unwrap();
        let columns = [
            crate::scan::ColumnScan {
                name: "id".into(),
                sql_type: "BIGINT",
                nullable: false,
                candidates: crate::infer::Candidates::ALL,
            },
            crate::scan::ColumnScan {
                name: "word".into(),
                sql_type: "VARCHAR",
                nullable: false,
                candidates: crate::infer::Candidates::ALL,
            },
        ];
        let out = dir.path().join("out.parquet");
        let tiny = Limits {
            threads: 2,
            memory_limit_mb: 1,
        };
        let e = convert::csv_to_parquet(&csv, &out, b',', true, &columns, tiny).unwrap_err();
        let api = convert_error(&e);
        assert_eq!(api.status.as_u16(), 503, "{e}");
        assert_eq!(api.code, "insufficient_memory");

        // The scan said BIGINT but DuckDB finds otherwise: the file's fault.
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "id,word\n1,a\nx,b\n").unwrap();
        let roomy = Limits {
            threads: 1,
            memory_limit_mb: 256,
        };
        let e = convert::csv_to_parquet(&bad, &out, b',', true, &columns, roomy).unwrap_err();
        assert_eq!(convert_error(&e).status.as_u16(), 400, "{e}");
    }

    #[test]
    fn params() {
        let p = Params::parse(Some("name=sales&mode=append&delimiter=%3B&header=false")).unwrap();
        assert_eq!(
            (p.name.as_str(), p.mode, p.delimiter, p.header),
            ("sales", Mode::Append, b';', false)
        );
        let p = Params::parse(Some("name=s&delimiter=tab")).unwrap();
        assert_eq!(
            (p.mode, p.delimiter, p.header),
            (Mode::Replace, b'\t', true)
        );
        for bad in [
            None,
            Some(""),
            Some("name="),
            Some("name=a/b"),
            Some("name=a&mode=x"),
            Some("name=a&delimiter=ab"),
            Some("name=a&delimiter=%22"),
            Some("name=a&header=yes"),
            Some("name=a&x=1"),
        ] {
            assert!(Params::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fingerprint_is_the_ordered_name_type_list() {
        let col = |n: &str, t: &str| Column {
            name: n.into(),
            ty: t.into(),
            nullable: true,
        };
        let a = schema_fingerprint(&[col("id", "BIGINT"), col("x", "VARCHAR")]);
        assert_eq!(a, hex::encode(Sha256::digest(b"id:BIGINT\nx:VARCHAR\n")));
        assert_ne!(
            a,
            schema_fingerprint(&[col("x", "VARCHAR"), col("id", "BIGINT")])
        );
        // Nullability is not part of it.
        let mut c = col("id", "BIGINT");
        c.nullable = false;
        assert_eq!(schema_fingerprint(&[c, col("x", "VARCHAR")]), a);
    }
}
