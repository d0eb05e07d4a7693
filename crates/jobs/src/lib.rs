//! What the two batch jobs (materializer and replay) share. They talk to the fleet only
//! through the gateway, with the typed clients of `lakehouse-client`.
//!
//! Layout: [`context`] loads the config and builds the gateway clients; [`embed`] is the
//! embedding trait with its [`embed::hash`] and [`embed::openai`] providers; [`chat`] the
//! OpenAI-compatible chat client; [`retry`] the backoff both use; [`output`] writes Arrow
//! batches as zstd Parquet and publishes them to a dataset; [`pii`] finds SSN-shaped strings;
//! [`text`] normalises whitespace and estimates tokens; [`progress`] reports on a terminal;
//! [`runid`] names runs.

pub mod chat;
pub mod context;
pub mod embed;
pub mod output;
pub mod progress;
pub mod retry;
pub mod runid;
pub mod text;
pub mod textfile;

pub use context::JobContext;
/// SSN-shaped strings (kept in the validators' crate, which the jobs and the CLI share).
pub use lakehouse_validate::pii;

/// The runtime a job's work runs on; `Err` is the exit status after saying why (on stderr,
/// as `<job>: …`).
pub fn runtime(job: &str) -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("{job}: cannot start the runtime: {e}");
            std::process::ExitCode::from(1)
        })
}
