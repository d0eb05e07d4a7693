//! vectord: named HNSW vector indexes.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

// Adds parse into many small allocations on several threads; glibc's per-thread arenas kept
// them resident after the batch was applied, jemalloc gives them back.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    lakehouse_vectord::heap::tune();
    startup::run_service(
        "vectord",
        |c| ("vectord.bind", c.vectord.bind.clone()),
        |loaded, listener| lakehouse_vectord::run(loaded, listener, shutdown_signal()),
    )
    .await
}
