//! `lakehouse`: the operator's command line. See `lakehouse --help` and docs/cli.md.
//!
//! Exit status, as git and kubectl use them: 0 done; 1 the operation failed (the fleet
//! answered with an error, it could not be reached, a service is not ready, a local file);
//! 2 misused (unknown command or flag, bad arguments or config). Errors go to stderr as
//! `error: <message>`, answers to stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use lakehouse_cli::cmd::data::{self, IngestArgs};
use lakehouse_cli::cmd::health;
use lakehouse_cli::cmd::jobs::{self, JobsCommand};
use lakehouse_cli::cmd::offline::{Offline, Operation};
use lakehouse_cli::cmd::sql::{self, SqlArgs};
use lakehouse_cli::cmd::storage::{self, StorageCommand};
use lakehouse_cli::cmd::validate::{self, ValidateArgs};
use lakehouse_cli::cmd::vectors::{self, VectorsCommand};
use lakehouse_cli::output::ListFormat;
use lakehouse_cli::remote::{CliError, Remote};

/// lakehouse: query, load and operate a Lakehouse fleet through its gateway.
///
/// The gateway is --url, else LAKEHOUSE_URL, else `url` in the CLI config file, else
/// http://127.0.0.1:3110. The token is LAKEHOUSE_TOKEN, else `token_file` or `token` in the
/// CLI config file (~/.config/lakehouse/cli.toml, or --cli-config / LAKEHOUSE_CLI_CONFIG).
#[derive(Debug, Parser)]
#[command(version, propagate_version = true, max_term_width = 100)]
struct Args {
    /// The gateway's URL.
    #[arg(long, global = true, env = "LAKEHOUSE_URL", hide_env_values = true)]
    url: Option<String>,
    /// The CLI config file (url, token_file or token, ca_file).
    #[arg(long, global = true)]
    cli_config: Option<PathBuf>,
    /// backup/restore/verify: the fleet's config file (its `[storaged]` is the fleet's storage).
    #[arg(long, default_value = "lakehouse.toml", global = true)]
    config: PathBuf,
    /// backup/restore/verify: endpoint of an `s3://` location (default: `[storaged] endpoint`).
    #[arg(long, global = true)]
    s3_endpoint: Option<String>,
    /// backup/restore/verify: region of an `s3://` location (default: `[storaged] region`).
    #[arg(long, global = true)]
    s3_region: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a SQL statement: a table on a terminal, JSON/NDJSON/CSV/Arrow/Parquet otherwise.
    Sql(SqlArgs),
    /// Load CSV files into datasets, with a progress bar on a terminal.
    Ingest(IngestArgs),
    /// List the datasets (now, or as of a catalog version or time).
    Datasets {
        /// A catalog version or an RFC 3339 time.
        #[arg(long)]
        as_of: Option<String>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// A dataset's columns, rows and version.
    Schema {
        /// The dataset.
        name: String,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// A dataset's snapshots, newest first.
    History {
        /// The dataset.
        name: String,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// Vector indexes: list, show, create, delete, search, load.
    #[command(subcommand)]
    Vectors(VectorsCommand),
    /// Batch jobs: materializer receipts and replay runs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Objects in the fleet's storage: ls, get, put, rm.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// The readiness of every service (exit 1 when one is not ready).
    Health {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// Check an answer with replay's validators, offline (exit 1 when it fails one).
    Validate(ValidateArgs),
    /// Exit 0 when URL answers 2xx (a container healthcheck; sends no token).
    Probe {
        /// E.g. http://127.0.0.1:3211/ready.
        url: String,
        /// Give up after this long.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Print a shell completion script (e.g. `lakehouse completions bash > /etc/bash_completion.d/lakehouse`).
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Copy what the chosen catalog versions need into a backup (incrementally); works on storage.
    Backup {
        /// The backup: a directory (created if missing) or `s3://bucket/prefix/`.
        #[arg(long)]
        to: String,
        /// A catalog version to cover (repeatable); default: every retained one.
        #[arg(long = "version")]
        versions: Vec<u64>,
    },
    /// Check a backup, then copy it into the fleet's (empty) storage; run with the fleet stopped.
    Restore {
        /// The backup: a directory or `s3://bucket/prefix/`.
        #[arg(long)]
        from: String,
    },
    /// Check every object of a backup against its manifest.
    Verify {
        /// The backup: a directory or `s3://bucket/prefix/`.
        #[arg(long)]
        from: String,
    },
}

async fn run(args: Args) -> Result<(), CliError> {
    let offline = Offline {
        config: &args.config,
        s3_endpoint: args.s3_endpoint.as_deref(),
        s3_region: args.s3_region.as_deref(),
    };
    let remote = || Remote::resolve(args.url.as_deref(), args.cli_config.as_deref());
    match &args.command {
        Command::Sql(a) => sql::run(&remote()?, a).await,
        Command::Ingest(a) => data::ingest(&remote()?, a).await,
        Command::Datasets { as_of, format } => {
            data::datasets(&remote()?, as_of.as_deref(), *format).await
        }
        Command::Schema { name, format } => data::schema(&remote()?, name, *format).await,
        Command::History { name, format } => data::history(&remote()?, name, *format).await,
        Command::Vectors(c) => vectors::run(&remote()?, c).await,
        Command::Jobs(c) => jobs::run(&remote()?, c).await,
        Command::Storage(c) => storage::run(&remote()?, c).await,
        Command::Health { format } => health::health(&remote()?, *format).await,
        Command::Validate(a) => validate::run(a),
        Command::Probe { url, timeout_ms } => health::probe(url, *timeout_ms).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Args::command(),
                "lakehouse",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Backup { to, versions } => offline.run(Operation::Backup { to, versions }).await,
        Command::Restore { from } => offline.run(Operation::Restore { from }).await,
        Command::Verify { from } => offline.run(Operation::Verify { from }).await,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
