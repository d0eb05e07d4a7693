//! Rows out: Arrow batches written as zstd Parquet, and objects published to a dataset.

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, TimeUnit};
use lakehouse_client::{CatalogClient, ClientError};
use lakehouse_types::{AppendRequest, Column, DataObject, RegisterResponse, schema_fingerprint};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Rows per Parquet row group: DuckDB's own default, a good unit for parallel scans.
pub const ROW_GROUP_ROWS: usize = 122_880;

/// Writes `batches` (all of `schema`) to `path` as zstd Parquet; the file's size.
pub fn write_parquet(
    path: &Path,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
) -> Result<u64, String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| e.to_string())?,
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("lakehouse".into())
        .build();
    let mut w =
        ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| e.to_string())?;
    for b in batches {
        w.write(b).map_err(|e| e.to_string())?;
    }
    let file = w.into_inner().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    Ok(size)
}

/// `YYYY-MM-DD`: the day partition of a key (`…/day=2026-11-21/…`).
pub fn day_partition(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Arrow's `Date32`: days since 1970-01-01.
pub fn date32(d: time::Date) -> i32 {
    d.to_julian_day() - 2_440_588
}

/// The SQL type DuckDB reports for a Parquet column of `t`.
pub fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 => "VARCHAR".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::List(f) | DataType::LargeList(f) => format!("{}[]", sql_type(f.data_type())),
        other => format!("{other}"),
    }
}

/// A catalog schema for an Arrow schema.
pub fn columns(schema: &Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            ty: sql_type(f.data_type()),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// Appends `objects` to dataset `name`, creating it when missing. Objects already in the
/// manifest are skipped, so publishing twice changes nothing.
pub async fn publish(
    catalog: &CatalogClient,
    name: &str,
    schema: &Schema,
    objects: Vec<DataObject>,
    rid: &str,
) -> Result<RegisterResponse, ClientError> {
    let cols = columns(schema);
    let req = AppendRequest {
        name: name.to_owned(),
        schema_fingerprint: schema_fingerprint(&cols),
        objects,
        schema: cols,
        create: true,
        expected_version: None,
    };
    catalog.append(&req, rid).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::Field;

    #[test]
    fn parquet_round_trips_through_the_reader() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let size = write_parquet(&path, &schema, std::slice::from_ref(&batch)).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let back: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(back, vec![batch]);
    }

    #[test]
    fn days_are_written_as_partitions_and_date32() {
        let d = time::macros::date!(2026 - 11 - 01);
        assert_eq!(day_partition(d), "2026-11-01");
        assert_eq!(date32(time::macros::date!(1970 - 01 - 02)), 1);
    }

    #[test]
    fn sql_types_are_duckdbs_names() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert_eq!(sql_type(&list), "VARCHAR[]");
        assert_eq!(
            sql_type(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "TIMESTAMP"
        );
        assert_eq!(sql_type(&DataType::Date32), "DATE");
    }
}
