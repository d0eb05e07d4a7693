//! Encodes a finished query as JSON, NDJSON, CSV or an Arrow IPC stream.

use std::io::Write;

use arrow_json::writer::{JsonArray, LineDelimited, WriterBuilder};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use lakehouse_common::ApiError;

use crate::engine::QueryResult;

/// The answer formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{columns, rows:[{…}], row_count, truncated, elapsed_ms}`.
    Json,
    /// One JSON object per row.
    Ndjson,
    /// RFC 4180 with a header row.
    Csv,
    /// Arrow IPC stream.
    Arrow,
}

impl Format {
    /// Parses the request's `format`.
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s.unwrap_or("json") {
            "json" => Ok(Self::Json),
            "ndjson" => Ok(Self::Ndjson),
            "csv" => Ok(Self::Csv),
            "arrow" => Ok(Self::Arrow),
            other => Err(ApiError::bad_request(format!(
                "format must be json, ndjson, csv or arrow, not '{other}'"
            ))),
        }
    }
}

fn encode_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("cannot encode the result: {e}")).with_code("unencodable_result")
}

fn json_rows<F: arrow_json::writer::JsonFormat>(
    r: &QueryResult,
    out: &mut Vec<u8>,
) -> Result<(), ApiError> {
    let mut w = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, F>(out);
    for b in &r.batches {
        w.write(b).map_err(encode_error)?;
    }
    w.finish().map_err(encode_error)
}

/// The HTTP answer. Row count and truncation travel in headers for every format.
pub fn respond(
    r: &QueryResult,
    format: Format,
    elapsed_ms: u64,
    catalog_version: u64,
) -> Result<Response, ApiError> {
    let mut body = Vec::new();
    let content_type = match format {
        Format::Json => {
            let columns = serde_json::to_string(&r.columns).map_err(encode_error)?;
            write!(body, "{{\"columns\":{columns},\"rows\":").map_err(encode_error)?;
            if r.row_count == 0 {
                body.extend_from_slice(b"[]");
            } else {
                json_rows::<JsonArray>(r, &mut body)?;
            }
            write!(
                body,
                ",\"row_count\":{},\"truncated\":{},\"elapsed_ms\":{elapsed_ms},\
                 \"catalog_version\":{catalog_version}}}",
                r.row_count, r.truncated
            )
            .map_err(encode_error)?;
            "application/json"
        }
        Format::Ndjson => {
            json_rows::<LineDelimited>(r, &mut body)?;
            "application/x-ndjson"
        }
        Format::Csv => {
            let mut w = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut body);
            if r.batches.is_empty() {
                let empty = duckdb::arrow::record_batch::RecordBatch::new_empty(r.schema.clone());
                w.write(&empty).map_err(encode_error)?;
            }
            for b in &r.batches {
                w.write(b).map_err(encode_error)?;
            }
            drop(w);
            "text/csv; charset=utf-8"
        }
        Format::Arrow => {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut body, &r.schema)
                .map_err(encode_error)?;
            for b in &r.batches {
                w.write(b).map_err(encode_error)?;
            }
            w.finish().map_err(encode_error)?;
            drop(w);
            "application/vnd.apache.arrow.stream"
        }
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-lakehouse-row-count", HeaderValue::from(r.row_count));
    h.insert(
        "x-lakehouse-catalog-version",
        HeaderValue::from(catalog_version),
    );
    h.insert(
        "x-lakehouse-truncated",
        HeaderValue::from_static(if r.truncated { "true" } else { "false" }),
    );
    Ok(res)
}
