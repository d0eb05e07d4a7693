//! catalogd: dataset manifests (register, append, list, delete).

use std::process::ExitCode;

use lakehouse_common::{shutdown_signal, startup};

#[tokio::main]
async fn main() -> ExitCode {
    startup::run_service(
        "catalogd",
        |c| ("catalogd.bind", c.catalogd.bind.clone()),
        |loaded, listener| lakehouse_catalogd::run(loaded, listener, shutdown_signal()),
    )
    .await
}
