//! gateway: the one public edge of a Lakehouse fleet.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "gateway",
        |c| ("gateway.bind", c.gateway.bind.clone()),
        |loaded, listener| lakehouse_gateway::run(loaded, listener, shutdown_signal()),
    )
    .await
}
