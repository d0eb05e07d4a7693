//! ingestd: CSV upload to Parquet datasets.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

// DuckDB's C++ allocates through malloc; jemalloc (which DuckDB's own builds use) is measurably
// faster for it than glibc's allocator.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "ingestd",
        |c| ("ingestd.bind", c.ingestd.bind.clone()),
        |loaded, listener| lakehouse_ingestd::run(loaded, listener, shutdown_signal()),
    )
    .await
}
