//! The SQL side of `vector_search`: the functions' signatures, their arguments read out of a
//! DuckDB chunk (checked, each refusal naming the argument), and hits written back as a list
//! of `STRUCT(id VARCHAR, distance FLOAT, rank INTEGER, metadata VARCHAR)`.

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, AsArray, Float32Array, Int32Array, ListArray, RecordBatch, StringArray, StructArray,
};
use duckdb::arrow::buffer::OffsetBuffer;
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int32Type};
use duckdb::vscalar::ArrowFunctionSignature;
use serde_json::Value;

use crate::vector_search::MAX_K;

/// One hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The item's id.
    pub id: String,
    /// Smaller is closer.
    pub distance: f32,
    /// 1 for the nearest.
    pub rank: i32,
    /// Its metadata, as JSON text.
    pub metadata: String,
}

/// What to search with.
#[derive(Debug, Clone)]
pub enum Query {
    /// A vector.
    Vector(Vec<f32>),
    /// Text, embedded by the fleet's embedder.
    Text(String),
}

/// One row's search.
#[derive(Debug, Clone)]
pub struct SearchArgs {
    /// The index.
    pub index: String,
    /// The query.
    pub query: Query,
    /// Results wanted.
    pub k: i64,
    /// Candidate list, when given.
    pub ef: Option<i64>,
    /// Metadata fields a hit must equal.
    pub filter: Option<Value>,
    /// Ids never returned.
    pub exclude: Vec<String>,
}

fn hit_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("distance", DataType::Float32, true),
        Field::new("rank", DataType::Int32, true),
        Field::new("metadata", DataType::Utf8, true),
    ])
}

/// `LIST(STRUCT(id, distance, rank, metadata))`.
pub fn result_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(hit_fields()),
        true,
    )))
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// The search function's overloads: the query as `FLOAT[]`, `DOUBLE[]` or text.
pub fn search_signatures() -> Vec<ArrowFunctionSignature> {
    [
        list_of(DataType::Float32),
        list_of(DataType::Float64),
        DataType::Utf8,
    ]
    .into_iter()
    .map(|query| {
        ArrowFunctionSignature::exact(
            vec![
                DataType::Utf8,
                DataType::Utf8,
                query,
                DataType::Int32,
                DataType::Int32,
                DataType::Utf8,
                list_of(DataType::Utf8),
            ],
            result_type(),
        )
    })
    .collect()
}

/// `embed(ticket, text) -> FLOAT[]`.
pub fn embed_signatures() -> Vec<ArrowFunctionSignature> {
    vec![ArrowFunctionSignature::exact(
        vec![DataType::Utf8, DataType::Utf8],
        list_of(DataType::Float32),
    )]
}

type Failure = Box<dyn std::error::Error>;

fn invalid(argument: &str, why: impl std::fmt::Display) -> Failure {
    format!("vector_search: invalid_argument: {argument}: {why}").into()
}

/// Column `i` as text, one entry per row.
pub fn text_list(input: &RecordBatch, i: usize) -> Result<Vec<Option<String>>, Failure> {
    let col = cast(input.column(i), &DataType::Utf8)?;
    let s = col.as_string::<i32>();
    Ok((0..s.len())
        .map(|r| s.is_valid(r).then(|| s.value(r).to_owned()))
        .collect())
}

fn int_list(input: &RecordBatch, i: usize) -> Result<Vec<Option<i64>>, Failure> {
    let col = cast(input.column(i), &DataType::Int32)?;
    let a = col.as_primitive::<Int32Type>();
    Ok((0..a.len())
        .map(|r| a.is_valid(r).then(|| i64::from(a.value(r))))
        .collect())
}

/// Each row's ticket and search, checked.
pub fn read_args(input: &RecordBatch) -> Result<Vec<(String, SearchArgs)>, Failure> {
    let tickets = text_list(input, 0)?;
    let indexes = text_list(input, 1)?;
    let ks = int_list(input, 3)?;
    let efs = int_list(input, 4)?;
    let filters = text_list(input, 5)?;
    let query = input.column(2);
    let vectors = match query.data_type() {
        DataType::List(_) => Some(cast(query, &list_of(DataType::Float64))?),
        _ => None,
    };
    let texts = match vectors {
        None => Some(text_list(input, 2)?),
        Some(_) => None,
    };
    let exclude = input.column(6).as_list_opt::<i32>().cloned();
    let mut out = Vec::with_capacity(input.num_rows());
    for r in 0..input.num_rows() {
        let ticket = tickets[r].clone().unwrap_or_default();
        let index = indexes[r]
            .clone()
            .ok_or_else(|| invalid("index", "is NULL"))?;
        if let Some(e) = lakehouse_types::name_error("index", &index) {
            return Err(invalid("index", e));
        }
        let query = match (&vectors, &texts) {
            (Some(v), _) => Query::Vector(vector_at(v.as_list::<i32>(), r)?),
            (None, Some(t)) => Query::Text(
                t[r].clone()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| invalid("query", "is empty or NULL"))?,
            ),
            (None, None) => return Err(invalid("query", "is neither a vector nor text")),
        };
        let k = ks[r].unwrap_or(10);
        if !(1..=MAX_K).contains(&k) {
            return Err(invalid("k", format!("{k} is not between 1 and {MAX_K}")));
        }
        let ef = efs[r].filter(|&ef| ef != 0);
        if ef.is_some_and(|ef| !(1..=4096).contains(&ef)) {
            return Err(invalid("ef", "is not between 1 and 4096"));
        }
        let filter = match &filters[r] {
            None => None,
            Some(f) if f.is_empty() => None,
            Some(f) => match serde_json::from_str::<Value>(f) {
                Ok(v @ Value::Object(_)) => Some(v),
                _ => return Err(invalid("filter", "is not a JSON object of field values")),
            },
        };
        let exclude = match &exclude {
            Some(l) if l.is_valid(r) => {
                let ids = cast(&l.value(r), &DataType::Utf8)?;
                let ids = ids.as_string::<i32>();
                (0..ids.len())
                    .filter(|&i| ids.is_valid(i))
                    .map(|i| ids.value(i).to_owned())
                    .collect()
            }
            _ => Vec::new(),
        };
        out.push((
            ticket,
            SearchArgs {
                index,
                query,
                k,
                ef,
                filter,
                exclude,
            },
        ));
    }
    Ok(out)
}

fn vector_at(list: &ListArray, r: usize) -> Result<Vec<f32>, Failure> {
    if !list.is_valid(r) {
        return Err(invalid("query", "is NULL"));
    }
    let values = list.value(r);
    let v = values.as_primitive::<Float64Type>();
    let mut out = Vec::with_capacity(v.len());
    for i in 0..v.len() {
        let x = if v.is_valid(i) { v.value(i) } else { f64::NAN };
        if !x.is_finite() {
            return Err(invalid(
                "query",
                format!("element {i} is not a finite number"),
            ));
        }
        out.push(x as f32);
    }
    if out.is_empty() {
        return Err(invalid("query", "is an empty vector"));
    }
    Ok(out)
}

/// One list of hits per row.
pub fn hits_array(rows: Vec<Vec<Hit>>) -> Result<Arc<dyn Array>, Failure> {
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    let hits: Vec<Hit> = rows
        .into_iter()
        .flat_map(|r| {
            let n = i32::try_from(r.len()).unwrap_or(i32::MAX);
            offsets.push(offsets.last().copied().unwrap_or(0) + n);
            r
        })
        .collect();
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from_iter_values(hits.iter().map(|h| &h.id))),
        Arc::new(Float32Array::from_iter_values(
            hits.iter().map(|h| h.distance),
        )),
        Arc::new(Int32Array::from_iter_values(hits.iter().map(|h| h.rank))),
        Arc::new(StringArray::from_iter_values(
            hits.iter().map(|h| &h.metadata),
        )),
    ];
    let structs = StructArray::try_new(hit_fields(), columns, None)?;
    let field = Arc::new(Field::new("item", DataType::Struct(hit_fields()), true));
    let list = ListArray::try_new(
        field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(structs),
        None,
    )?;
    Ok(Arc::new(list))
}

/// One vector per row.
pub fn vectors_array(rows: Vec<Vec<f32>>) -> Result<Arc<dyn Array>, Failure> {
    let mut offsets = vec![0i32];
    let mut values = Vec::new();
    for v in rows {
        values.extend(v);
        offsets.push(i32::try_from(values.len()).unwrap_or(i32::MAX));
    }
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    Ok(Arc::new(ListArray::try_new(
        field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(Float32Array::from(values)),
        None,
    )?))
}
