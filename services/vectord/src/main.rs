//! vectord: named HNSW vector indexes.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "vectord",
        |c| ("vectord.bind", c.vectord.bind.clone()),
        |loaded, listener| lakehouse_vectord::run(loaded, listener, shutdown_signal()),
    )
    .await
}
