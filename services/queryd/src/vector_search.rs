//! `vector_search(index, query, k => …, ef => …, filter => …, exclude => […])` and
//! `embed(text)` inside SQL: nearest neighbours from vectord as a table a statement can join,
//! use in a CTE or call `LATERAL` once per row of another query.
//!
//! DuckDB sees two table macros over scalar functions of ours. The functions reach vectord
//! (the only new way out of the sandbox) through the fleet's client, on behalf of the caller
//! of the statement: each statement gets a random ticket, set as a variable on its connection
//! only, that names its caller, the catalog state it reads and how many searches it has
//! left. A statement cannot set variables (the sandbox admits one SELECT), so it can only use
//! its own ticket.
//!
//! Indexes are read at the statement's catalog version, like its datasets: its `as_of`, or
//! else the version its answer names. Without `as_of`, an index never committed (so in no
//! catalog version) is read live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use duckdb::Connection;
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};
use lakehouse_client::{ClientError, ServiceClient};
use lakehouse_common::access::CLIENT_HEADER;
use lakehouse_common::{Principal, request_id};
use lakehouse_jobs::embed::{Embedder, Purpose};
use lakehouse_types::AsOf;
use lakehouse_types::shard::owner_of;
use reqwest::Method;
use serde_json::{Value, json};

use crate::vector_sql::{Hit, SearchArgs, hits_array, read_args, text_list};

/// Results one search may ask for (vectord's own cap).
pub const MAX_K: i64 = 1_000;

/// The connection variable holding a statement's ticket.
pub const TICKET_VARIABLE: &str = "lakehouse_ticket";

/// What the functions need: vectord's instances (its shards, in order), the fleet's
/// embedder, and the runtime their calls run on.
pub struct Searcher {
    /// One client per vectord shard.
    pub vectord: Vec<ServiceClient>,
    /// `[embed]`'s provider, for `embed(text)` and text queries.
    pub embedder: Arc<dyn Embedder>,
    /// Searches (and embeddings) one statement may make.
    pub max_searches: u32,
    /// The async runtime the HTTP calls run on (DuckDB calls us on its own threads).
    pub runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Searcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Searcher")
            .field("shards", &self.vectord.len())
            .field("max_searches", &self.max_searches)
            .finish_non_exhaustive()
    }
}

/// The catalog state a statement's searches read.
#[derive(Debug, Clone)]
pub enum Pin {
    /// The `as_of` the caller asked for.
    AsOf(AsOf),
    /// The version the answer names; an index with no commit then is read live.
    Answer(u64),
}

/// One statement's right to search.
struct Context {
    who: Principal,
    pin: Pin,
    left: AtomicU32,
    request_id: String,
}

static TICKETS: LazyLock<Mutex<HashMap<String, Arc<Context>>>> = LazyLock::new(Mutex::default);

fn tickets() -> std::sync::MutexGuard<'static, HashMap<String, Arc<Context>>> {
    TICKETS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A statement's ticket: valid until dropped (when the statement's answer is done).
#[derive(Debug)]
pub struct Ticket(pub String);

impl Ticket {
    /// A ticket for a statement of `who`, reading indexes at `pin`.
    pub fn issue(searcher: &Searcher, who: Principal, pin: Pin) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ctx = Context {
            who,
            pin,
            left: AtomicU32::new(searcher.max_searches),
            request_id: request_id::current().unwrap_or_else(request_id::generate),
        };
        tickets().insert(id.clone(), Arc::new(ctx));
        Self(id)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        tickets().remove(&self.0);
    }
}

/// A refusal DuckDB reports as the statement's error; `output` turns the code into a status.
fn refused(code: &str, message: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!("vector_search: {code}: {message}").into()
}

fn context(ticket: &str) -> Result<Arc<Context>, Box<dyn std::error::Error>> {
    tickets().get(ticket).cloned().ok_or_else(|| {
        refused(
            "invalid_argument",
            "vector_search and embed run only inside a statement sent to /sql",
        )
    })
}

fn spend(ctx: &Context, max: u32, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    ctx.left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(n))
        .map(drop)
        .map_err(|_| {
            refused(
                "too_many_searches",
                format!("one statement may make at most {max} searches and embeddings"),
            )
        })
}

fn vectord_error(index: &str, e: &ClientError) -> Box<dyn std::error::Error> {
    match e {
        ClientError::Status {
            status,
            code,
            message,
            ..
        } if status.as_u16() == 404 => match code.as_str() {
            "not_found" => refused("index_not_found", format!("no index named '{index}'")),
            // At the `as_of` asked for: no commit yet, or no such version.
            _ => refused("index_not_found", message),
        },
        ClientError::Status { status, .. } if status.as_u16() == 403 => refused("forbidden", e),
        ClientError::Status {
            status, message, ..
        } if status.is_client_error() => {
            refused("invalid_argument", format!("index '{index}': {message}"))
        }
        e => refused("vectord_unavailable", e),
    }
}

impl Searcher {
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
        self.embedder
            .embed(&texts, Purpose::Query)
            .await
            .map_err(|e| refused("embed_unavailable", e))
    }

    async fn search(
        &self,
        ctx: &Context,
        args: SearchArgs,
    ) -> Result<Vec<Hit>, Box<dyn std::error::Error>> {
        if !ctx.who.may_index(&args.index) {
            return Err(refused(
                "forbidden",
                format!(
                    "token '{}' may not search index '{}'",
                    ctx.who.name, args.index
                ),
            ));
        }
        let vector = match args.query {
            crate::vector_sql::Query::Vector(v) => v,
            crate::vector_sql::Query::Text(t) => self
                .embed(vec![t])
                .await?
                .pop()
                .ok_or_else(|| refused("embed_unavailable", "no vector came back"))?,
        };
        let mut body = json!({"vector": vector, "k": args.k});
        if let Some(ef) = args.ef {
            body["ef"] = ef.into();
        }
        if let Some(f) = args.filter {
            body["filter"] = f;
        }
        if !args.exclude.is_empty() {
            body["exclude_ids"] = args.exclude.into();
        }
        let client = &self.vectord[owner_of(&args.index, self.vectord.len())];
        // The name was checked against the naming rule, so it is one plain path segment.
        let path = format!("/vectors/index/{}/search", args.index);
        let send = |body: &Value| {
            client
                .request(Method::POST, &path, &ctx.request_id)
                .header(CLIENT_HEADER, &*ctx.who.name)
                .json(body)
        };
        let (as_of, live_if_uncommitted) = match &ctx.pin {
            Pin::AsOf(a) => (a.clone(), false),
            Pin::Answer(v) => (AsOf::Version(*v), true),
        };
        let mut pinned = body.clone();
        pinned["as_of"] = serde_json::to_value(&as_of).unwrap_or(Value::Null);
        let answer: Value = match client.send_json(send(&pinned)).await {
            Err(ClientError::Status { status, code, .. })
                if live_if_uncommitted && status.as_u16() == 404 && code == "not_committed" =>
            {
                client.send_json(send(&body)).await
            }
            r => r,
        }
        .map_err(|e| vectord_error(&args.index, &e))?;
        Ok(answer["results"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| Hit {
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                distance: r["distance"].as_f64().unwrap_or(f64::NAN) as f32,
                rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
                metadata: r["metadata"].to_string(),
            })
            .collect())
    }
}

/// `__lakehouse_vector_search(ticket, index, query, k, ef, filter, exclude)`: one list of
/// hits per row.
struct SearchFunction;

impl VArrowScalar for SearchFunction {
    type State = Option<Arc<Searcher>>;

    fn invoke(
        state: &Self::State,
        input: duckdb::arrow::array::RecordBatch,
    ) -> Result<Arc<dyn duckdb::arrow::array::Array>, Box<dyn std::error::Error>> {
        let searcher = state.clone().ok_or("vector_search is not set up")?;
        let rows = read_args(&input)?;
        let Some(first) = rows.first() else {
            return hits_array(Vec::new());
        };
        let ctx = context(&first.0)?;
        spend(&ctx, searcher.max_searches, rows.len())?;
        let s = searcher.clone();
        let lists = searcher.runtime.block_on(async move {
            use futures::StreamExt;
            futures::stream::iter(rows.into_iter().map(|(_, args)| {
                let (s, ctx) = (s.clone(), ctx.clone());
                async move { s.search(&ctx, args).await.map_err(|e| e.to_string()) }
            }))
            .buffered(8)
            .collect::<Vec<_>>()
            .await
        });
        let lists = lists.into_iter().collect::<Result<Vec<_>, String>>()?;
        hits_array(lists)
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        crate::vector_sql::search_signatures()
    }
}

/// `__lakehouse_embed(ticket, text)`: the fleet's embedding of `text`, as a query.
struct EmbedFunction;

impl VArrowScalar for EmbedFunction {
    type State = Option<Arc<Searcher>>;

    fn invoke(
        state: &Self::State,
        input: duckdb::arrow::array::RecordBatch,
    ) -> Result<Arc<dyn duckdb::arrow::array::Array>, Box<dyn std::error::Error>> {
        let searcher = state.clone().ok_or("embed is not set up")?;
        let tickets = text_list(&input, 0)?;
        let texts = text_list(&input, 1)?;
        let Some(Some(ticket)) = tickets.first() else {
            return crate::vector_sql::vectors_array(Vec::new());
        };
        let ctx = context(ticket)?;
        let texts: Vec<String> = texts.into_iter().map(Option::unwrap_or_default).collect();
        spend(&ctx, searcher.max_searches, texts.len())?;
        let s = searcher.clone();
        let vectors = searcher
            .runtime
            .block_on(async move { s.embed(texts).await })?;
        crate::vector_sql::vectors_array(vectors)
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        crate::vector_sql::embed_signatures()
    }
}

/// Registers the functions and the macros users call, on the engine's admin connection
/// (every pooled connection sees them). DuckDB answers NULL without calling a scalar function
/// when an argument is NULL, so the macros pass "absent" as 0, '' and [] instead.
pub fn install(conn: &Connection, searcher: Arc<Searcher>) -> Result<(), String> {
    let state = Some(searcher);
    conn.register_scalar_function_with_state::<SearchFunction>("__lakehouse_vector_search", &state)
        .map_err(|e| e.to_string())?;
    conn.register_scalar_function_with_state::<EmbedFunction>("__lakehouse_embed", &state)
        .map_err(|e| e.to_string())?;
    conn.execute_batch(&format!(
        "CREATE MACRO embed(text) AS __lakehouse_embed(getvariable('{TICKET_VARIABLE}'), text);
         CREATE MACRO vector_search(index_name, query, k := 10, ef := NULL, filter := NULL,
                                    exclude := NULL) AS TABLE
           SELECT hit.id, hit.distance, hit.rank, hit.metadata
           FROM (SELECT unnest(__lakehouse_vector_search(
                   getvariable('{TICKET_VARIABLE}'), index_name, query,
                   coalesce(CAST(k AS INTEGER), 10), coalesce(CAST(ef AS INTEGER), 0),
                   coalesce(CAST(filter AS VARCHAR), ''),
                   coalesce(CAST(exclude AS VARCHAR[]), []::VARCHAR[])))
                 AS hit);"
    ))
    .map_err(|e| e.to_string())
}
