//! materializer (batch job): turns raw LLM run logs into evidence datasets.
//!
//! Not yet implemented: the command parses its arguments and config, then says so and exits
//! with status 2, so no script mistakes it for a job that ran.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lakehouse_common::config::{Config, ProcessEnv};

/// materializer: turns raw LLM run logs into evidence datasets.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Path of the configuration file.
    #[arg(long, default_value = "lakehouse.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the job.
    Run {
        /// Show what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = Config::load(&args.config, &ProcessEnv) {
        eprintln!("materializer: {e}");
        return ExitCode::from(2);
    }
    let Command::Run { dry_run } = args.command;
    eprintln!(
        "materializer: not yet implemented (run{}): this build has no materializer job",
        if dry_run { " --dry-run" } else { "" }
    );
    ExitCode::from(2)
}
