//! `materializer run [--input PREFIX|DIR] [--index NAME] [--dry-run] [--json]`, and
//! `materializer export-sft -o FILE [--parquet FILE] [--min-score S] [--where SQL]` (see
//! [`lakehouse_materializer::sft`]).
//!
//! stdout carries the result: a one-screen summary on a terminal, else the receipt as one
//! JSON document. Progress goes to stderr, only on a terminal. Exit status: 0 done, 1 the
//! run failed (the receipt says why), 2 bad arguments or config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lakehouse_jobs::JobContext;
use lakehouse_materializer::run::{Options, run};
use lakehouse_materializer::sft::{self, ExportSftArgs};

// Many small allocations per record: glibc malloc measured 30 % of the run time.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Materialize every raw log not yet in the `evidence` dataset.
    Run {
        /// Storage prefix (default `raw/`) or a local file or directory to read.
        #[arg(long)]
        input: Option<String>,
        /// Also embed the new records into this vector index (created if missing).
        #[arg(long)]
        index: Option<String>,
        /// Create the index with a keyword-searchable `text` field holding each record's
        /// text, so replay can retrieve with --hybrid.
        #[arg(long, requires = "index")]
        index_text: bool,
        /// Read and transform, print what would be written, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the receipt as JSON even on a terminal.
        #[arg(long)]
        json: bool,
    },
    /// Write supervised fine-tuning data from evidence that passed, behind the firewall.
    ExportSft(ExportSftArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let ctx = match JobContext::load("materializer", &args.config, |c| {
        &c.materializer.gateway_url
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("materializer: {e}");
            return ExitCode::from(2);
        }
    };
    let (input, index, index_text, dry_run, json) = match args.command {
        Command::ExportSft(a) => return sft::command(&ctx, a),
        Command::Run {
            input,
            index,
            index_text,
            dry_run,
            json,
        } => (input, index, index_text, dry_run, json),
    };
    if let Some(name) = &index
        && let Some(e) = lakehouse_types::name_error("index", name)
    {
        eprintln!("materializer: --index: {e}");
        return ExitCode::from(2);
    }
    let opts = Options {
        input,
        index,
        index_text,
        dry_run,
    };
    let rt = match lakehouse_jobs::runtime("materializer") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let receipt = rt.block_on(run(&ctx, &opts));
    let textfile = &ctx.config.materializer.metrics_textfile;
    if !textfile.is_empty()
        && !opts.dry_run
        && let Err(e) = lakehouse_materializer::figures::of(&receipt).write(textfile.as_ref())
    {
        eprintln!("materializer: metrics_textfile {textfile}: {e}");
    }
    if lakehouse_jobs::progress::human_stdout() && !json {
        print!("{}", receipt.human());
    } else {
        match serde_json::to_string_pretty(&receipt) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("materializer: {e}"),
        }
    }
    if receipt.status == "failed" {
        if let Some(e) = &receipt.error {
            eprintln!("materializer: {e}");
        }
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
