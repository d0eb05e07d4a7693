//! `lakehouse backup --to DIR [--version V]…`, `lakehouse restore --from DIR`,
//! `lakehouse verify --from DIR`.
//!
//! The source (of a backup) and the target (of a restore) is the storage `[storaged]` of the
//! config names, read and written directly: a restore is done with the fleet stopped, into an
//! empty store. stdout carries one JSON summary. Exit status: 0 done; 1 the operation failed
//! (storage, a damaged backup: the message names the object); 2 bad arguments or config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use lakehouse_cli::backup::{self, BackupError};
use lakehouse_cli::objects::Store;
use lakehouse_common::config::{Config, ProcessEnv};
use lakehouse_storage::FsStore;

/// lakehouse: the operator's command line.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Path of the configuration file (its `[storaged]` section is the fleet's storage).
    #[arg(long, default_value = "lakehouse.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy what the chosen catalog versions need into a backup directory (incrementally).
    Backup {
        /// The backup directory (created if missing).
        #[arg(long)]
        to: PathBuf,
        /// A catalog version to cover (repeatable); default: every retained one.
        #[arg(long = "version")]
        versions: Vec<u64>,
    },
    /// Check a backup, then copy it into the fleet's (empty) storage.
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
    },
    /// Check every object of a backup against its manifest.
    Verify {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
    },
}

fn fleet_store(config: &std::path::Path) -> Result<Store, String> {
    let loaded = Config::load(config, &ProcessEnv).map_err(|e| e.to_string())?;
    lakehouse_storaged::build_store(&loaded.config.storaged, &ProcessEnv).map_err(|e| e.to_string())
}

fn dir_store(dir: &std::path::Path) -> Result<Store, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let s = FsStore::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Arc::new(s))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let stores = match &args.command {
        Command::Backup { to, .. } => {
            fleet_store(&args.config).and_then(|a| Ok((a, dir_store(to)?)))
        }
        Command::Restore { from } => {
            dir_store(from).and_then(|b| Ok((b, fleet_store(&args.config)?)))
        }
        Command::Verify { from } => dir_store(from).map(|b| (b.clone(), b)),
    };
    let (a, b) = match stores {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lakehouse: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        Command::Backup { versions, .. } => backup::backup(&a, &b, &versions)
            .await
            .map(|s| serde_json::to_value(s).unwrap_or_default()),
        Command::Restore { .. } => backup::restore(&a, &b)
            .await
            .map(|s| serde_json::to_value(s).unwrap_or_default()),
        Command::Verify { .. } => backup::verify(&a).await.map(|m| {
            serde_json::json!({"objects": m.objects.len(), "versions": m.versions, "catalog_version": m.catalog_version})
        }),
    };
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lakehouse: {e}");
            ExitCode::from(match e {
                BackupError::Refused(_) => 2,
                _ => 1,
            })
        }
    }
}
