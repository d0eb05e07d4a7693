//! queryd: SQL over the datasets with DuckDB.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

// DuckDB's C++ allocates through malloc; jemalloc (which DuckDB's own builds use) is measurably
// faster for it than glibc's allocator.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "queryd",
        |c| ("queryd.bind", c.queryd.bind.clone()),
        |loaded, listener| lakehouse_queryd::run(loaded, listener, shutdown_signal()),
    )
    .await
}
