//! The answer of a query as JSON, NDJSON, CSV, an Arrow IPC stream or Parquet, chosen by the
//! request's `format` or, without one, its `Accept` header; small answers whole, large ones
//! streamed batch by batch ([`crate::encode`] writes the bytes).

use axum::body::{Body, Bytes};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use lakehouse_common::ApiError;

use crate::encode::{EncodeError, Encoder};
use crate::engine::{Chunk, QueryError, QueryStream};

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
    /// One Parquet file (zstd).
    Parquet,
}

/// Media types answered, and the format each stands for.
const MEDIA: [(&str, Format); 6] = [
    ("application/json", Format::Json),
    ("application/x-ndjson", Format::Ndjson),
    ("application/jsonl", Format::Ndjson),
    ("text/csv", Format::Csv),
    ("application/vnd.apache.arrow.stream", Format::Arrow),
    ("application/vnd.apache.parquet", Format::Parquet),
];

impl Format {
    /// The request's `format`, else the best type its `Accept` header names (by `q`, then
    /// order), else JSON. An `Accept` that names only types not answered here is a 406.
    pub fn choose(field: Option<&str>, accept: Option<&str>) -> Result<Self, ApiError> {
        if let Some(f) = field {
            return match f {
                "json" => Ok(Self::Json),
                "ndjson" => Ok(Self::Ndjson),
                "csv" => Ok(Self::Csv),
                "arrow" => Ok(Self::Arrow),
                "parquet" => Ok(Self::Parquet),
                other => Err(ApiError::bad_request(format!(
                    "format must be json, ndjson, csv, arrow or parquet, not '{other}'"
                ))),
            };
        }
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
            return Ok(Self::Json);
        };
        let mut ranked: Vec<(f32, usize, Self)> = Vec::new();
        for (i, item) in accept.split(',').enumerate() {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            let format = match media.as_str() {
                "*/*" | "application/*" => Some(Self::Json),
                "text/*" => Some(Self::Csv),
                m => MEDIA.iter().find(|(t, _)| *t == m).map(|(_, f)| *f),
            };
            if let Some(f) = format {
                ranked.push((q, i, f));
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|r| r.2).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                format!(
                    "Accept names no type this route answers: {}",
                    MEDIA.map(|m| m.0).join(", ")
                ),
            )
        })
    }
}

fn encode_error(EncodeError(why): EncodeError) -> ApiError {
    ApiError::bad_request(format!("cannot encode the result: {why}"))
        .with_code("unencodable_result")
}

/// An answer up to this size is sent whole, with its row count and truncation in headers; a
/// larger one is streamed as DuckDB produces it, so a large result costs queryd a few batches
/// of memory, not the whole result.
pub const STREAM_AFTER_BYTES: usize = 4 << 20;

/// What the answer says about itself besides its rows.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The format asked for.
    pub format: Format,
    /// When the request arrived.
    pub started: std::time::Instant,
    /// The catalog version every dataset was read at.
    pub catalog_version: u64,
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Arrow => "application/vnd.apache.arrow.stream",
        Format::Parquet => "application/vnd.apache.parquet",
    }
}

pub fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Sql(m) => match search_refusal(&m) {
            Some((code, message)) => {
                let status = match code {
                    "forbidden" => axum::http::StatusCode::FORBIDDEN,
                    "vectord_unavailable" | "embed_unavailable" => {
                        axum::http::StatusCode::BAD_GATEWAY
                    }
                    _ => axum::http::StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, code.to_owned(), format!("vector_search: {message}"))
            }
            None => ApiError::bad_request(m).with_code("sql_error"),
        },
        QueryError::Timeout(d) => ApiError::gateway_timeout(format!(
            "the query ran longer than {} ms and was stopped",
            d.as_millis()
        ))
        .with_code("query_timeout"),
        QueryError::Internal(m) => ApiError::internal(m),
    }
}

/// A refusal raised by `vector_search` or `embed` inside DuckDB: its code and message.
fn search_refusal(m: &str) -> Option<(&str, &str)> {
    let rest = &m[m.find("vector_search: ")? + "vector_search: ".len()..];
    let (code, message) = rest.split_once(": ")?;
    let known = [
        "invalid_argument",
        "index_not_found",
        "forbidden",
        "too_many_searches",
        "vectord_unavailable",
        "embed_unavailable",
    ];
    known.contains(&code).then_some((code, message))
}

/// The HTTP answer for a started query. Errors before the first [`STREAM_AFTER_BYTES`] are
/// still error answers; after that the status is sent, and an error ends the body early (the
/// chunked encoding is left unfinished, so no client takes it for a whole answer).
pub async fn respond(mut q: QueryStream, a: Answer) -> Result<Response, ApiError> {
    let (mut enc, mut body) =
        Encoder::begin(a.format, &q.columns, q.schema.clone()).map_err(encode_error)?;
    let started = a.started;
    let elapsed = move || started.elapsed().as_millis() as u64;
    while body.len() < STREAM_AFTER_BYTES {
        match q.chunks.recv().await {
            Some(Ok(Chunk::Batch(b))) => body.extend(enc.batch(&b).map_err(encode_error)?),
            Some(Ok(Chunk::End {
                row_count,
                truncated,
            })) => {
                body.extend(
                    enc.end(row_count, truncated, elapsed(), a.catalog_version)
                        .map_err(encode_error)?,
                );
                let mut res = body.into_response();
                let h = res.headers_mut();
                headers(h, a);
                h.insert("x-lakehouse-row-count", HeaderValue::from(row_count));
                h.insert(
                    "x-lakehouse-truncated",
                    HeaderValue::from_static(if truncated { "true" } else { "false" }),
                );
                return Ok(res);
            }
            Some(Err(e)) => return Err(query_error(e)),
            None => return Err(ApiError::internal("the query ended without its last chunk")),
        }
    }
    // Streamed: what is encoded so far, then each batch as it comes.
    let rest = futures::stream::unfold(Some((q, enc)), move |state| async move {
        let (mut q, mut enc) = state?;
        let broken = |m: String| Some((Err(std::io::Error::other(m)), None));
        match q.chunks.recv().await {
            Some(Ok(Chunk::Batch(b))) => match enc.batch(&b) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), Some((q, enc)))),
                Err(e) => broken(e.0),
            },
            Some(Ok(Chunk::End {
                row_count,
                truncated,
            })) => match enc.end(row_count, truncated, elapsed(), a.catalog_version) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), None)),
                Err(e) => broken(e.0),
            },
            Some(Err(e)) => {
                let e = query_error(e);
                tracing::warn!(code = %e.code, message = %e.message, "a streamed answer broke off");
                broken(e.message)
            }
            None => broken("the query ended without its last chunk".into()),
        }
    });
    let first = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
    let mut res = Response::new(Body::from_stream(first.chain(rest)));
    headers(res.headers_mut(), a);
    res.headers_mut()
        .insert("x-lakehouse-streamed", HeaderValue::from_static("true"));
    Ok(res)
}

fn headers(h: &mut axum::http::HeaderMap, a: Answer) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(a.format)),
    );
    h.insert(
        "x-lakehouse-catalog-version",
        HeaderValue::from(a.catalog_version),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_field_wins_then_accept_by_quality_then_json() {
        let c = |f, a| Format::choose(f, a).map_err(|e| e.status);
        assert_eq!(c(Some("csv"), Some("application/json")), Ok(Format::Csv));
        assert_eq!(c(None, None), Ok(Format::Json));
        assert_eq!(c(None, Some("*/*")), Ok(Format::Json));
        assert_eq!(c(None, Some("text/csv")), Ok(Format::Csv));
        assert_eq!(
            c(None, Some("text/csv;q=0.5, application/x-ndjson")),
            Ok(Format::Ndjson)
        );
        assert_eq!(
            c(
                None,
                Some("image/png, application/vnd.apache.parquet;q=0.1")
            ),
            Ok(Format::Parquet)
        );
        assert_eq!(
            c(None, Some("application/vnd.apache.arrow.stream")),
            Ok(Format::Arrow)
        );
        assert_eq!(
            c(None, Some("image/png, text/csv;q=0")),
            Err(axum::http::StatusCode::NOT_ACCEPTABLE)
        );
        assert!(c(Some("xml"), None).is_err());
    }
}
