//! ingestd: CSV upload to Parquet datasets.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "ingestd",
        |c| ("ingestd.bind", c.ingestd.bind.clone()),
        |loaded, listener| lakehouse_ingestd::run(loaded, listener, shutdown_signal()),
    )
    .await
}
