//! `lakehouse backup --to LOCATION [--version V]…`, `lakehouse restore --from LOCATION`,
//! `lakehouse verify --from LOCATION`.
//!
//! A LOCATION is a directory or a bucket, `s3://bucket/prefix/`: its endpoint and region are
//! `--s3-endpoint`/`--s3-region`, by default those of `[storaged]`, and its credentials the
//! standard AWS variables, as storaged's are.
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
use lakehouse_common::config::{Backend, Config, ProcessEnv};
use lakehouse_storage::FsStore;

/// lakehouse: the operator's command line.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Path of the configuration file (its `[storaged]` section is the fleet's storage).
    #[arg(long, default_value = "lakehouse.toml", global = true)]
    config: PathBuf,
    /// Endpoint of an `s3://` backup location (default: `[storaged] endpoint`).
    #[arg(long, global = true)]
    s3_endpoint: Option<String>,
    /// Region of an `s3://` backup location (default: `[storaged] region`).
    #[arg(long, global = true)]
    s3_region: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy what the chosen catalog versions need into a backup directory (incrementally).
    Backup {
        /// The backup: a directory (created if missing) or `s3://bucket/prefix/`.
        #[arg(long)]
        to: String,
        /// A catalog version to cover (repeatable); default: every retained one.
        #[arg(long = "version")]
        versions: Vec<u64>,
    },
    /// Check a backup, then copy it into the fleet's (empty) storage.
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

fn fleet_store(args: &Args) -> Result<Store, String> {
    let c = config(args)?;
    lakehouse_storaged::build_store(&c.storaged, &ProcessEnv).map_err(|e| e.to_string())
}

fn config(args: &Args) -> Result<Config, String> {
    Config::load(&args.config, &ProcessEnv)
        .map(|l| l.config)
        .map_err(|e| e.to_string())
}

/// The store of a backup LOCATION.
fn backup_store(args: &Args, location: &str) -> Result<Store, String> {
    let Some(rest) = location.strip_prefix("s3://") else {
        let dir = PathBuf::from(location);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{location}: {e}"))?;
        let s = FsStore::open(&dir).map_err(|e| format!("{location}: {e}"))?;
        return Ok(Arc::new(s));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || prefix.starts_with('/') || prefix.contains("//") {
        return Err(format!(
            "{location}: an S3 location is s3://bucket or s3://bucket/prefix/"
        ));
    }
    let mut storaged = config(args)?.storaged;
    storaged.backend = Backend::S3;
    storaged.bucket = bucket.to_owned();
    storaged.prefix = match prefix {
        "" => String::new(),
        p if p.ends_with('/') => p.to_owned(),
        p => format!("{p}/"),
    };
    if let Some(e) = &args.s3_endpoint {
        storaged.endpoint = Some(e.clone());
    }
    if let Some(r) = &args.s3_region {
        storaged.region.clone_from(r);
    }
    lakehouse_storaged::build_store(&storaged, &ProcessEnv).map_err(|e| format!("{location}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let stores = match &args.command {
        Command::Backup { to, .. } => {
            fleet_store(&args).and_then(|a| Ok((a, backup_store(&args, to)?)))
        }
        Command::Restore { from } => {
            backup_store(&args, from).and_then(|b| Ok((b, fleet_store(&args)?)))
        }
        Command::Verify { from } => backup_store(&args, from).map(|b| (b.clone(), b)),
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
