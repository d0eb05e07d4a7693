//! `lakehouse backup`, `restore` and `verify`: they work on storage directly, not through the
//! gateway. The fleet's storage is the `[storaged]` section of `--config`; a LOCATION is a
//! directory or `s3://bucket/prefix/` (endpoint and region from `--s3-endpoint`/`--s3-region`,
//! by default `[storaged]`'s; credentials the standard AWS variables, as storaged's are). A
//! restore is done with the fleet stopped, into an empty store. stdout carries one JSON summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lakehouse_common::config::{Backend, Config, ProcessEnv};
use lakehouse_storage::FsStore;

use crate::backup::{self, BackupError};
use crate::objects::Store;
use crate::remote::CliError;

/// Where the fleet's config is and how to reach an `s3://` location.
#[derive(Debug)]
pub struct Offline<'a> {
    /// The fleet's config file.
    pub config: &'a Path,
    /// `--s3-endpoint`.
    pub s3_endpoint: Option<&'a str>,
    /// `--s3-region`.
    pub s3_region: Option<&'a str>,
}

/// Which offline operation.
#[derive(Debug)]
pub enum Operation<'a> {
    /// Back up `versions` (all when empty) to a location.
    Backup {
        /// The location.
        to: &'a str,
        /// Catalog versions to cover.
        versions: &'a [u64],
    },
    /// Restore a location into the fleet's empty storage.
    Restore {
        /// The location.
        from: &'a str,
    },
    /// Check a location against its manifest.
    Verify {
        /// The location.
        from: &'a str,
    },
}

impl Offline<'_> {
    fn config(&self) -> Result<Config, CliError> {
        Config::load(self.config, &ProcessEnv)
            .map(|l| l.config)
            .map_err(|e| CliError::Usage(e.to_string()))
    }

    fn fleet_store(&self) -> Result<Store, CliError> {
        let c = self.config()?;
        lakehouse_storaged::build_store(&c.storaged, &ProcessEnv)
            .map_err(|e| CliError::Usage(e.to_string()))
    }

    /// The store of a backup LOCATION.
    fn backup_store(&self, location: &str) -> Result<Store, CliError> {
        let usage = |e: String| CliError::Usage(format!("{location}: {e}"));
        let Some(rest) = location.strip_prefix("s3://") else {
            let dir = PathBuf::from(location);
            std::fs::create_dir_all(&dir).map_err(|e| usage(e.to_string()))?;
            let s = FsStore::open(&dir).map_err(|e| usage(e.to_string()))?;
            return Ok(Arc::new(s));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || prefix.starts_with('/') || prefix.contains("//") {
            return Err(usage(
                "an S3 location is s3://bucket or s3://bucket/prefix/".into(),
            ));
        }
        let mut storaged = self.config()?.storaged;
        storaged.backend = Backend::S3;
        storaged.bucket = bucket.to_owned();
        storaged.prefix = match prefix {
            "" => String::new(),
            p if p.ends_with('/') => p.to_owned(),
            p => format!("{p}/"),
        };
        if let Some(e) = self.s3_endpoint {
            storaged.endpoint = Some(e.to_owned());
        }
        if let Some(r) = self.s3_region {
            r.clone_into(&mut storaged.region);
        }
        lakehouse_storaged::build_store(&storaged, &ProcessEnv).map_err(|e| usage(e.to_string()))
    }

    /// Runs `op`, printing its JSON summary.
    pub async fn run(&self, op: Operation<'_>) -> Result<(), CliError> {
        let failed = |e: BackupError| match e {
            BackupError::Refused(_) => CliError::Usage(e.to_string()),
            _ => CliError::Failed(e.to_string()),
        };
        let summary = match op {
            Operation::Backup { to, versions } => {
                let (from, to) = (self.fleet_store()?, self.backup_store(to)?);
                let s = backup::backup(&from, &to, versions).await.map_err(failed)?;
                serde_json::to_value(s).unwrap_or_default()
            }
            Operation::Restore { from } => {
                let (from, to) = (self.backup_store(from)?, self.fleet_store()?);
                let s = backup::restore(&from, &to).await.map_err(failed)?;
                serde_json::to_value(s).unwrap_or_default()
            }
            Operation::Verify { from } => {
                let m = backup::verify(&self.backup_store(from)?)
                    .await
                    .map_err(failed)?;
                serde_json::json!({"objects": m.objects.len(), "versions": m.versions, "catalog_version": m.catalog_version})
            }
        };
        println!("{summary}");
        Ok(())
    }
}
