//! queryd: SQL over the datasets with DuckDB.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "queryd",
        |c| ("queryd.bind", c.queryd.bind.clone()),
        |loaded, listener| lakehouse_queryd::run(loaded, listener, shutdown_signal()),
    )
    .await
}
