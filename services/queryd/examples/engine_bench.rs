//! queryd's engine alone, in process: the same wrapped statements queryd runs, without HTTP,
//! the catalog check or encoding. `scripts/bench/data_path.sh` runs it next to the service and
//! DuckDB's Python package to tell the service's cost from the engine build's.
//!
//!   engine_bench FILE.parquet < '{"label": "SELECT … FROM placements", …}'
//!
//! Prints `{"label": median_ms, …}` over 7 runs after one warm-up.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lakehouse_queryd::engine::{Engine, EngineSettings};
use lakehouse_queryd::sandbox;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> Result<(), String> {
    let file = std::env::args()
        .nth(1)
        .ok_or("usage: engine_bench FILE.parquet")?;
    let file = std::fs::canonicalize(file).map_err(|e| e.to_string())?;
    let dir = file.parent().ok_or("the file has no directory")?.to_owned();
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())?;
    let queries: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&input).map_err(|e| e.to_string())?;
    let spill = tempfile::tempdir().map_err(|e| e.to_string())?;
    let engine = Arc::new(Engine::open(&EngineSettings {
        readable_dir: dir,
        temp_dir: spill.path().to_owned(),
        threads: 0,
        memory_limit_mb: 2048,
        connections: 1,
        timeout: Duration::from_secs(60),
        vector_search: None,
    })?);
    engine.set_view("placements", &[file], &[])?;
    let mut out = serde_json::Map::new();
    for (label, sql) in queries {
        let sql = sql.as_str().ok_or("queries are strings")?;
        let wrapped = sandbox::wrap(sql, 10_001).map_err(|e| e.to_string())?;
        let mut times = Vec::new();
        for i in 0..8 {
            let t = Instant::now();
            engine
                .query(wrapped.clone(), 10_000, Vec::new(), None, None, None)
                .await
                .map_err(|e| format!("{label}: {e:?}"))?
                .collect()
                .await
                .map_err(|e| format!("{label}: {e:?}"))?;
            if i > 0 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        out.insert(label, times[times.len() / 2].into());
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
