//! Encodes a result batch by batch, so an answer is written as DuckDB produces it: each call
//! returns the bytes that can go to the client now. JSON puts `row_count` and `truncated`
//! after the rows, where a streamed answer knows them.

use std::io::Write;

use arrow_json::writer::{LineDelimited, WriterBuilder};
use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use lakehouse_types::ResultColumn;

use crate::output::Format;

/// Rows per Parquet row group: what the writer holds in memory before it writes.
const PARQUET_ROW_GROUP: usize = 64 * 1024;

/// Why a batch could not be encoded.
#[derive(Debug)]
pub struct EncodeError(pub String);

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError(e.to_string())
}

enum State {
    Json { rows_written: bool },
    Ndjson,
    Csv { header_written: bool },
    Arrow(Box<arrow_ipc::writer::StreamWriter<Vec<u8>>>),
    Parquet(Option<Box<parquet::arrow::ArrowWriter<Vec<u8>>>>),
}

/// One answer being encoded.
pub struct Encoder {
    schema: SchemaRef,
    state: State,
}

impl Encoder {
    /// A new encoder and the bytes that open the answer.
    pub fn begin(
        format: Format,
        columns: &[ResultColumn],
        schema: SchemaRef,
    ) -> Result<(Self, Vec<u8>), EncodeError> {
        let mut head = Vec::new();
        let state = match format {
            Format::Json => {
                let columns = serde_json::to_string(columns).map_err(err)?;
                write!(head, "{{\"columns\":{columns},\"rows\":[").map_err(err)?;
                State::Json {
                    rows_written: false,
                }
            }
            Format::Ndjson => State::Ndjson,
            Format::Csv => State::Csv {
                header_written: false,
            },
            Format::Arrow => {
                let mut w =
                    arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).map_err(err)?;
                head = std::mem::take(w.get_mut());
                State::Arrow(Box::new(w))
            }
            Format::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP))
                    .build();
                let w =
                    parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
                        .map_err(err)?;
                State::Parquet(Some(Box::new(w)))
            }
        };
        Ok((Self { schema, state }, head))
    }

    /// The bytes for one batch (possibly none yet: Parquet writes whole row groups).
    pub fn batch(&mut self, b: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Json { rows_written } => {
                let mut lines = Vec::new();
                json_lines(b, &mut lines)?;
                // One object per line, and JSON never has a raw newline inside a value.
                let lines = lines.strip_suffix(b"\n").unwrap_or(&lines);
                if !lines.is_empty() {
                    if *rows_written {
                        out.push(b',');
                    }
                    out.extend(lines.iter().map(|&c| if c == b'\n' { b',' } else { c }));
                    *rows_written = true;
                }
            }
            State::Ndjson => json_lines(b, &mut out)?,
            State::Csv { header_written } => {
                let mut w = arrow_csv::WriterBuilder::new()
                    .with_header(!*header_written)
                    .build(&mut out);
                w.write(b).map_err(err)?;
                *header_written = true;
            }
            State::Arrow(w) => {
                w.write(b).map_err(err)?;
                out = std::mem::take(w.get_mut());
            }
            State::Parquet(Some(w)) => {
                w.write(b).map_err(err)?;
                out = std::mem::take(w.inner_mut());
            }
            State::Parquet(None) => return Err(EncodeError("the answer is already closed".into())),
        }
        Ok(out)
    }

    /// The bytes that close the answer.
    pub fn end(
        &mut self,
        row_count: u64,
        truncated: bool,
        elapsed_ms: u64,
        catalog_version: u64,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Json { .. } => write!(
                out,
                "],\"row_count\":{row_count},\"truncated\":{truncated},\
                 \"elapsed_ms\":{elapsed_ms},\"catalog_version\":{catalog_version}}}"
            )
            .map_err(err)?,
            State::Ndjson => {}
            State::Csv { header_written } => {
                if !*header_written {
                    let empty = RecordBatch::new_empty(self.schema.clone());
                    let mut w = arrow_csv::WriterBuilder::new()
                        .with_header(true)
                        .build(&mut out);
                    w.write(&empty).map_err(err)?;
                    *header_written = true;
                }
            }
            State::Arrow(w) => {
                w.finish().map_err(err)?;
                out = std::mem::take(w.get_mut());
            }
            State::Parquet(w) => {
                let w = w
                    .take()
                    .ok_or_else(|| EncodeError("the answer is already closed".into()))?;
                out = w.into_inner().map_err(err)?;
            }
        }
        Ok(out)
    }
}

fn json_lines(b: &RecordBatch, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut w = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, LineDelimited>(out);
    w.write(b).map_err(err)?;
    w.finish().map_err(err)
}
