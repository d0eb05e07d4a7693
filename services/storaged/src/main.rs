//! storaged: the object store every other service keeps its durable state in.

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "storaged",
        |c| ("storaged.bind", c.storaged.bind.clone()),
        |loaded, listener| lakehouse_storaged::run(loaded, listener, shutdown_signal()),
    )
    .await
}
