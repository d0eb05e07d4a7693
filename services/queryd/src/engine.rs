//! DuckDB, locked down: an in-memory database whose only readable files are the object cache,
//! a pool of connections that run queries off the async runtime, and a per-query time limit
//! enforced by interrupting the connection.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use duckdb::arrow::datatypes::SchemaRef;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::{Config, Connection};
use lakehouse_types::{Column, ResultColumn, canonical_column_type};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Why a query failed.
#[derive(Debug)]
pub enum QueryError {
    /// DuckDB refused or failed the statement: the caller's fault (400).
    Sql(String),
    /// Over the time limit (504).
    Timeout(Duration),
    /// Something on our side (500).
    Internal(String),
}

/// What a running query sends after its columns, in order: batches, then the end.
#[derive(Debug)]
pub enum Chunk {
    /// The next rows.
    Batch(RecordBatch),
    /// No more rows: how many were sent, and whether more existed than the limit.
    End {
        /// Rows sent.
        row_count: u64,
        /// More rows existed.
        truncated: bool,
    },
}

/// A started query: its columns, and its rows as DuckDB produces them. The channel holds two
/// batches at most, so a slow reader pauses the query instead of piling up rows; dropping the
/// stream stops the query.
#[derive(Debug)]
pub struct QueryStream {
    /// Result columns with DuckDB type names.
    pub columns: Vec<ResultColumn>,
    /// The Arrow schema.
    pub schema: SchemaRef,
    /// Batches, then [`Chunk::End`]; or an error, after which nothing follows.
    pub chunks: mpsc::Receiver<Result<Chunk, QueryError>>,
}

/// A whole result, for callers that want it in memory.
#[derive(Debug)]
pub struct QueryResult {
    /// Result columns with DuckDB type names.
    pub columns: Vec<ResultColumn>,
    /// The rows, at most the limit.
    pub batches: Vec<RecordBatch>,
    /// Rows in `batches`.
    pub row_count: u64,
    /// More rows existed.
    pub truncated: bool,
}

impl QueryStream {
    /// Reads the whole result.
    pub async fn collect(mut self) -> Result<QueryResult, QueryError> {
        let mut batches = Vec::new();
        while let Some(chunk) = self.chunks.recv().await {
            match chunk? {
                Chunk::Batch(b) => batches.push(b),
                Chunk::End {
                    row_count,
                    truncated,
                } => {
                    return Ok(QueryResult {
                        columns: self.columns,
                        batches,
                        row_count,
                        truncated,
                    });
                }
            }
        }
        Err(QueryError::Internal(
            "the query ended without its last chunk".into(),
        ))
    }
}

type Started = Result<(Vec<ResultColumn>, SchemaRef), QueryError>;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The only directory queries may read (must exist).
    pub readable_dir: PathBuf,
    /// Spill directory.
    pub temp_dir: PathBuf,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Memory limit in MiB.
    pub memory_limit_mb: u64,
    /// Connections (= queries at once).
    pub connections: usize,
    /// Per-query time limit.
    pub timeout: Duration,
    /// `vector_search` and `embed` in SQL, when vectord is configured.
    pub vector_search: Option<Arc<crate::vector_search::Searcher>>,
}

/// The database and its connections.
pub struct Engine {
    admin: Mutex<Connection>,
    pool: Mutex<Vec<Connection>>,
    slots: Arc<Semaphore>,
    timeout: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn dir_literal(p: &Path) -> Result<String, String> {
    let abs = std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut s = abs.to_string_lossy().into_owned();
    if !s.ends_with('/') {
        s.push('/');
    }
    Ok(literal(&s))
}

impl Engine {
    /// Opens the database and locks its configuration.
    pub fn open(s: &EngineSettings) -> Result<Self, String> {
        let mut config = Config::default()
            .max_memory(&format!("{}MB", s.memory_limit_mb))
            .and_then(|c| c.enable_autoload_extension(false))
            .map_err(|e| e.to_string())?;
        if s.threads > 0 {
            config = config
                .threads(i64::try_from(s.threads).unwrap_or(1))
                .map_err(|e| e.to_string())?;
        }
        let admin = Connection::open_in_memory_with_flags(config).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&s.temp_dir).map_err(|e| e.to_string())?;
        // Order matters: the allowed directory is set while access is still on, and the lock
        // comes last so no query can undo any of it.
        let setup = format!(
            "SET autoinstall_known_extensions = false;
             SET autoload_known_extensions = false;
             SET allow_community_extensions = false;
             SET temp_directory = {tmp};
             SET allowed_directories = [{dir}];
             SET enable_external_access = false;
             SET lock_configuration = true;",
            tmp = literal(&s.temp_dir.to_string_lossy()),
            dir = dir_literal(&s.readable_dir)?,
        );
        admin.execute_batch(&setup).map_err(|e| e.to_string())?;
        if let Some(searcher) = &s.vector_search {
            crate::vector_search::install(&admin, searcher.clone())?;
        }
        let pool = (0..s.connections.max(1))
            .map(|_| admin.try_clone().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            admin: Mutex::new(admin),
            slots: Arc::new(Semaphore::new(pool.len())),
            pool: Mutex::new(pool),
            timeout: s.timeout,
        })
    }

    /// Points view `name` at `files` (or, with none, at an empty relation of `schema`).
    pub fn set_view(&self, name: &str, files: &[PathBuf], schema: &[Column]) -> Result<(), String> {
        let sql = format!(
            "CREATE OR REPLACE VIEW {} AS {}",
            ident(name),
            view_body(files, schema)?
        );
        let admin = self.admin.lock().unwrap_or_else(PoisonError::into_inner);
        // One statement, never a batch: nothing in it can start a second one.
        admin.execute(&sql, []).map(drop).map_err(|e| e.to_string())
    }

    /// Removes view `name` if it exists.
    pub fn drop_view(&self, name: &str) -> Result<(), String> {
        let admin = self.admin.lock().unwrap_or_else(PoisonError::into_inner);
        admin
            .execute_batch(&format!("DROP VIEW IF EXISTS {}", ident(name)))
            .map_err(|e| e.to_string())
    }

    /// Starts a checked, wrapped statement on a pooled connection, off the async runtime, and
    /// answers once its columns and first rows are known (so an error DuckDB raises at once is
    /// still an error here, not a broken stream). `limit` rows are sent at most; the
    /// statement itself asks for `limit + 1` so the end knows whether it was truncated.
    /// `keep` (cache pins) lives until the query is done; the time limit covers the whole
    /// run, streaming included.
    pub async fn query(
        self: &Arc<Self>,
        sql: String,
        limit: u64,
        views: Vec<TempView>,
        hold: Option<Box<dyn std::any::Any + Send>>,
        keep: Option<Box<dyn std::any::Any + Send>>,
        ticket: Option<String>,
    ) -> Result<QueryStream, QueryError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| QueryError::Internal("shutting down".into()))?;
        let conn = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .ok_or_else(|| QueryError::Internal("no free connection".into()))?;
        let interrupt = InterruptOnDrop(conn.interrupt_handle(), true);
        let timed_out = Arc::new(AtomicBool::new(false));
        let (start_tx, start_rx) = oneshot::channel::<Started>();
        let (tx, rx) = mpsc::channel(2);
        let engine = self.clone();
        let flag = timed_out.clone();
        let limit_time = self.timeout;
        let out = Sender {
            tx: tx.clone(),
            deadline: tokio::time::Instant::now() + limit_time,
            runtime: tokio::runtime::Handle::current(),
        };
        let task = tokio::task::spawn_blocking(move || {
            let mut start = Some(start_tx);
            let r = with_ticket(&conn, ticket.as_deref(), || {
                with_temp_views(&conn, &views, || {
                    run(&conn, &sql, limit, hold, &mut start, &out)
                })
            });
            if let Err(e) = r {
                let e = if flag.load(Ordering::SeqCst) || matches!(e, QueryError::Timeout(_)) {
                    QueryError::Timeout(limit_time)
                } else {
                    e
                };
                match start.take() {
                    Some(s) => drop(s.send(Err(e))),
                    // A full channel means a stalled reader; it sees the stream end without its last chunk.
                    None => drop(tx.try_send(Err(e))),
                }
            }
            engine
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
            drop((slot, keep));
        });
        let watchdog = interrupt.0.clone();
        tokio::spawn(async move {
            if tokio::time::timeout(limit_time, task).await.is_err() {
                timed_out.store(true, Ordering::SeqCst);
                watchdog.interrupt();
            }
        });
        let started = start_rx.await;
        let mut interrupt = interrupt;
        interrupt.1 = false;
        match started {
            Ok(Ok((columns, schema))) => Ok(QueryStream {
                columns,
                schema,
                chunks: rx,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(QueryError::Internal(
                "the query stopped before it started".into(),
            )),
        }
    }
}

/// What a view reads: `files`, or with none an empty relation of `schema`.
fn view_body(files: &[PathBuf], schema: &[Column]) -> Result<String, String> {
    if files.is_empty() {
        let cols = if schema.is_empty() {
            "NULL AS empty".to_owned()
        } else {
            // Only the canonical spelling of a known type reaches SQL, never catalog text.
            schema
                .iter()
                .map(|c| {
                    let ty = canonical_column_type(&c.ty).ok_or_else(|| {
                        format!("column '{}' has unknown type '{}'", c.name, c.ty)
                    })?;
                    Ok(format!("CAST(NULL AS {ty}) AS {}", ident(&c.name)))
                })
                .collect::<Result<Vec<_>, String>>()?
                .join(", ")
        };
        return Ok(format!("SELECT {cols} WHERE false"));
    }
    let list = files
        .iter()
        .map(|p| literal(&p.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!("SELECT * FROM read_parquet([{list}])"))
}

/// A view one query sees in place of the shared one: a dataset as of an older version.
#[derive(Debug, Clone)]
pub enum TempView {
    /// The dataset then.
    Files {
        /// View name.
        name: String,
        /// Its objects in the cache.
        files: Vec<PathBuf>,
        /// Its columns (for an empty dataset).
        schema: Vec<Column>,
    },
    /// A dataset that exists now but did not then: reading it fails with `message`.
    Missing {
        /// View name.
        name: String,
        /// The error a read raises.
        message: String,
    },
}

impl TempView {
    fn name(&self) -> &str {
        match self {
            Self::Files { name, .. } | Self::Missing { name, .. } => name,
        }
    }

    fn create_sql(&self) -> Result<String, String> {
        let body = match self {
            Self::Files { files, schema, .. } => view_body(files, schema)?,
            Self::Missing { message, .. } => {
                format!("SELECT * FROM range(1) WHERE error({})", literal(message))
            }
        };
        Ok(format!(
            "CREATE OR REPLACE TEMP VIEW {} AS {body}",
            ident(self.name())
        ))
    }
}

/// Runs `f` with `views` in place on `conn` (temporary views shadow the shared ones for this
/// connection only), removing them afterwards whatever happened.
/// Runs `f` with the statement's `vector_search` ticket set on `conn`, and clears it after.
fn with_ticket<T>(
    conn: &Connection,
    ticket: Option<&str>,
    f: impl FnOnce() -> Result<T, QueryError>,
) -> Result<T, QueryError> {
    let Some(t) = ticket else {
        return f();
    };
    let var = crate::vector_search::TICKET_VARIABLE;
    conn.execute_batch(&format!("SET VARIABLE {var} = {}", literal(t)))
        .map_err(|e| QueryError::Internal(format!("cannot set the search ticket: {e}")))?;
    let r = f();
    if let Err(e) = conn.execute_batch(&format!("RESET VARIABLE {var}")) {
        tracing::error!(error = %e, "could not clear the search ticket");
    }
    r
}

fn with_temp_views<T>(
    conn: &Connection,
    views: &[TempView],
    f: impl FnOnce() -> Result<T, QueryError>,
) -> Result<T, QueryError> {
    let drop_all = |n: usize| {
        for v in &views[..n] {
            let sql = format!("DROP VIEW IF EXISTS temp.{}", ident(v.name()));
            if let Err(e) = conn.execute(&sql, []) {
                tracing::error!(view = %v.name(), error = %e, "could not drop a temporary view");
            }
        }
    };
    for (i, v) in views.iter().enumerate() {
        let made = v
            .create_sql()
            .and_then(|sql| conn.execute(&sql, []).map_err(|e| e.to_string()));
        if let Err(e) = made {
            drop_all(i);
            return Err(QueryError::Internal(format!(
                "cannot set up view '{}': {e}",
                v.name()
            )));
        }
    }
    let r = f();
    drop_all(views.len());
    r
}

/// Interrupts the connection if the request goes away while its query runs.
struct InterruptOnDrop(Arc<duckdb::InterruptHandle>, bool);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if self.1 {
            self.0.interrupt();
        }
    }
}

/// Where a query's batches go: a reader that stops reading without going away meets the same
/// time limit as a slow query.
struct Sender {
    tx: mpsc::Sender<Result<Chunk, QueryError>>,
    deadline: tokio::time::Instant,
    runtime: tokio::runtime::Handle,
}

impl Sender {
    /// `Ok(false)` when the reader has gone.
    fn send(&self, chunk: Chunk) -> Result<bool, QueryError> {
        let sent = self.runtime.block_on(tokio::time::timeout_at(
            self.deadline,
            self.tx.send(Ok(chunk)),
        ));
        match sent {
            Ok(r) => Ok(r.is_ok()),
            Err(_) => Err(QueryError::Timeout(Duration::ZERO)),
        }
    }
}

/// Runs `sql`, streaming: the columns go to `start` with the first batch fetched, then every
/// batch to `tx`, then the end. `hold` (whatever keeps the views from changing) is released
/// once the statement has bound to them and started. A reader that goes away stops it.
fn run(
    conn: &Connection,
    sql: &str,
    limit: u64,
    hold: Option<Box<dyn std::any::Any + Send>>,
    start: &mut Option<oneshot::Sender<Started>>,
    out: &Sender,
) -> Result<(), QueryError> {
    let sql_err = |e: duckdb::Error| QueryError::Sql(e.to_string());
    let mut stmt = conn.prepare(sql).map_err(sql_err)?;
    // The crate's batch iterator panics when a fetch fails (a cast error in a later row, an
    // interrupt): batches are stepped here instead, so such failures are errors.
    drop(stmt.stream_arrow([]).map_err(sql_err)?);
    drop(hold);
    // Column types and schema come from the executed statement (the crate panics before).
    let types: Vec<String> = (0..stmt.column_count())
        .map(|i| type_name(&stmt.column_logical_type(i)))
        .collect();
    let schema = stmt.schema();
    let next = || -> Result<Option<RecordBatch>, duckdb::Error> {
        Ok(stmt.step()?.map(|array| RecordBatch::from(&array)))
    };
    let first = next().map_err(sql_err)?;
    let columns = schema
        .fields()
        .iter()
        .zip(types)
        .map(|(f, ty)| ResultColumn {
            name: f.name().clone(),
            ty,
        })
        .collect();
    if let Some(s) = start.take()
        && s.send(Ok((columns, schema))).is_err()
    {
        return Ok(());
    }
    let mut rows = 0u64;
    let mut truncated = false;
    let stream = std::iter::from_fn(|| next().transpose());
    for batch in first.into_iter().map(Ok).chain(stream) {
        let batch = batch.map_err(sql_err)?;
        let n = batch.num_rows() as u64;
        let batch = if rows + n > limit {
            truncated = true;
            batch.slice(0, usize::try_from(limit - rows).unwrap_or(0))
        } else {
            batch
        };
        rows += batch.num_rows() as u64;
        if batch.num_rows() > 0 && !out.send(Chunk::Batch(batch))? {
            return Ok(());
        }
        if truncated {
            break;
        }
    }
    out.send(Chunk::End {
        row_count: rows,
        truncated,
    })
    .map(drop)
}

/// DuckDB's own name for a type.
pub fn type_name(t: &LogicalTypeHandle) -> String {
    use LogicalTypeId as T;
    match t.id() {
        T::Boolean => "BOOLEAN".into(),
        T::Tinyint => "TINYINT".into(),
        T::Smallint => "SMALLINT".into(),
        T::Integer => "INTEGER".into(),
        T::Bigint => "BIGINT".into(),
        T::UTinyint => "UTINYINT".into(),
        T::USmallint => "USMALLINT".into(),
        T::UInteger => "UINTEGER".into(),
        T::UBigint => "UBIGINT".into(),
        T::Hugeint => "HUGEINT".into(),
        T::UHugeint => "UHUGEINT".into(),
        T::Float => "FLOAT".into(),
        T::Double => "DOUBLE".into(),
        T::Decimal => format!("DECIMAL({},{})", t.decimal_width(), t.decimal_scale()),
        T::Varchar | T::StringLiteral => "VARCHAR".into(),
        T::Blob => "BLOB".into(),
        T::Date => "DATE".into(),
        T::Time | T::TimeNs => "TIME".into(),
        T::TimeTZ => "TIME WITH TIME ZONE".into(),
        T::Timestamp => "TIMESTAMP".into(),
        T::TimestampS => "TIMESTAMP_S".into(),
        T::TimestampMs => "TIMESTAMP_MS".into(),
        T::TimestampNs => "TIMESTAMP_NS".into(),
        T::TimestampTZ => "TIMESTAMP WITH TIME ZONE".into(),
        T::Interval => "INTERVAL".into(),
        T::Uuid => "UUID".into(),
        T::Enum => "ENUM".into(),
        T::Bit => "BIT".into(),
        T::SqlNull => "NULL".into(),
        T::IntegerLiteral => "INTEGER".into(),
        T::List => format!("{}[]", type_name(&t.child(0))),
        T::Array => format!("{}[]", type_name(&t.child(0))),
        T::Map => format!(
            "MAP({}, {})",
            type_name(&t.child(0)),
            type_name(&t.child(1))
        ),
        T::Struct | T::Union => {
            let fields = (0..t.num_children())
                .map(|i| format!("{} {}", ident(&t.child_name(i)), type_name(&t.child(i))))
                .collect::<Vec<_>>()
                .join(", ");
            let kind = if t.id() == T::Struct {
                "STRUCT"
            } else {
                "UNION"
            };
            format!("{kind}({fields})")
        }
        other => format!("{other:?}").to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn engine(dir: &Path) -> Arc<Engine> {
        Arc::new(
            Engine::open(&EngineSettings {
                readable_dir: dir.to_path_buf(),
                temp_dir: dir.join("tmp"),
                threads: 1,
                memory_limit_mb: 256,
                connections: 1,
                timeout: Duration::from_secs(10),
                vector_search: None,
            })
            .unwrap(),
        )
    }

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            nullable: true,
        }
    }

    #[tokio::test]
    async fn catalog_types_cannot_inject_sql() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.set_view("victim", &[], &[col("n", "BIGINT")]).unwrap();
        let evil = "BIGINT) AS n WHERE false; CREATE OR REPLACE VIEW victim AS SELECT 42 AS n; \
                    SELECT CAST(NULL AS BIGINT";
        assert!(e.set_view("attacker", &[], &[col("n", evil)]).is_err());
        let r = e
            .query(
                "SELECT count(*) AS c FROM victim".into(),
                10,
                Vec::new(),
                None,
                None,
                None,
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let c = r.batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<duckdb::arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(c, 0, "the victim's view was replaced");
        // A known type in any case is written canonically and works.
        e.set_view(
            "ok",
            &[],
            &[col("t", "timestamp with time zone"), col("l", "varchar[]")],
        )
        .unwrap();
        let r = e
            .query("SELECT * FROM ok".into(), 10, Vec::new(), None, None, None)
            .await
            .unwrap();
        assert_eq!(r.columns[1].ty, "VARCHAR[]");
    }

    fn first_i64(r: &QueryResult) -> i64 {
        r.batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<duckdb::arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    }

    /// A query as of an older version sees its own views for its run only.
    #[tokio::test]
    async fn temporary_views_shadow_for_one_query_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        e.set_view("now", &[], &[col("n", "BIGINT")]).unwrap();
        e.set_view("gone", &[], &[col("n", "BIGINT")]).unwrap();
        let then = vec![
            TempView::Files {
                name: "now".into(),
                files: Vec::new(),
                schema: vec![col("n", "BIGINT"), col("extra", "VARCHAR")],
            },
            TempView::Missing {
                name: "gone".into(),
                message: "dataset 'gone' did not exist at catalog version 3".into(),
            },
        ];
        let older = "SELECT count(extra) FROM now";
        let r = e
            .query(older.into(), 10, then.clone(), None, None, None)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(first_i64(&r), 0, "the older schema is seen");
        let err = e
            .query(older.into(), 10, Vec::new(), None, None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, QueryError::Sql(_)),
            "and is gone after the query"
        );
        let err = e
            .query(
                "SELECT count(*) FROM gone".into(),
                10,
                then,
                None,
                None,
                None,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, QueryError::Sql(m) if m.contains("did not exist at catalog version 3")),
            "{err:?}"
        );
        let r = e
            .query(
                "SELECT count(*) FROM gone".into(),
                10,
                Vec::new(),
                None,
                None,
                None,
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(first_i64(&r), 0);
    }

    /// A failure raised after the first batches (here `error()` on a late row) is the
    /// query's error, not a panic of its worker, and the engine goes on answering.
    #[tokio::test]
    async fn an_error_in_a_later_batch_is_a_query_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let sql = "SELECT CASE WHEN i < 300000 THEN i ELSE error('late failure') END AS v \
                   FROM range(400000) t(i)";
        let got = match e
            .query(sql.into(), u64::MAX, Vec::new(), None, None, None)
            .await
        {
            Ok(stream) => stream.collect().await.map(drop),
            Err(err) => Err(err),
        };
        match got {
            Err(QueryError::Sql(msg)) => assert!(msg.contains("late failure"), "{msg}"),
            other => panic!("expected the SQL error, got {other:?}"),
        }
        let r = e
            .query("SELECT 7::BIGINT".into(), 10, Vec::new(), None, None, None)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(first_i64(&r), 7);
    }
}
