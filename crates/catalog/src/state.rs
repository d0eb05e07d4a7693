//! The catalog's whole state at one version, and how a commit or checkpoint becomes it.

use std::collections::{BTreeMap, VecDeque};

use lakehouse_types::{
    AsOf, ChangeKind, ChangeSummary, CommitInfo, Manifest, ObjectKey, data_key_error, name_error,
};

use crate::CatalogError;
use crate::index_lineage::IndexLineage;
use crate::lineage::{At, Lineage};
use crate::record::{
    ChangeRecord, CheckpointRecord, CommitRecord, FORMAT, Objects, SnapRecord, format_error,
};
use crate::rules::stored_manifest_error;
use crate::time::parse_ms;

/// Every dataset's history and the commit log, at `version`.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) version: u64,
    pub(crate) last_time_ms: i64,
    pub(crate) lineages: BTreeMap<String, Lineage>,
    pub(crate) indexes: BTreeMap<String, IndexLineage>,
    /// Retained commits, oldest first.
    pub(crate) log: VecDeque<CommitInfo>,
    /// Commits up to this version are no longer in `log`.
    pub(crate) log_floor: u64,
    pub(crate) since_checkpoint: u64,
}

impl State {
    /// Applies a commit read from the log or just written. A change that breaks the rules is
    /// skipped and reported; the version still advances.
    pub(crate) fn apply(&mut self, c: &CommitRecord) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(e) = format_error(c.format) {
            problems.push(format!("commit {}: {e}", c.version));
            return problems;
        }
        let mut summaries = Vec::new();
        for change in &c.changes {
            let (name, snapshot) = match change {
                ChangeRecord::Dataset { name, snapshot } => (name, snapshot),
                ChangeRecord::Index { commit } => {
                    match self.apply_index(c.version, commit) {
                        Ok(s) => summaries.push(s),
                        Err(e) => problems.push(format!("commit {}: {e}", c.version)),
                    }
                    continue;
                }
            };
            if let Some(e) = snapshot_error(name, snapshot) {
                problems.push(format!("commit {}: dataset '{name}': {e}", c.version));
                continue;
            }
            let lineage = self
                .lineages
                .entry(name.clone())
                .or_insert_with(|| Lineage::new(name));
            if let Err(e) = lineage.push(snapshot.clone()) {
                problems.push(format!("commit {}: {e}", c.version));
                continue;
            }
            let current = lineage.current();
            summaries.push(ChangeSummary {
                kind: ChangeKind::Dataset,
                name: name.clone(),
                op: snapshot.op,
                row_count: current.map_or(0, |m| m.row_count),
                object_count: current.map_or(0, |m| m.objects.len() as u64),
                rollback_of: snapshot.rollback_of,
            });
        }
        self.version = self.version.max(c.version);
        if let Some(t) = parse_ms(&c.time) {
            self.last_time_ms = self.last_time_ms.max(t);
        }
        self.log.push_back(CommitInfo {
            version: c.version,
            time: c.time.clone(),
            request_id: c.request_id.clone(),
            changes: summaries,
        });
        self.since_checkpoint += 1;
        problems
    }

    fn apply_index(
        &mut self,
        version: u64,
        c: &lakehouse_types::IndexCommitInfo,
    ) -> Result<ChangeSummary, String> {
        if let Some(e) = name_error("index", &c.name) {
            return Err(e);
        }
        if c.version != version {
            return Err(format!(
                "index '{}' commit says version {}",
                c.name, c.version
            ));
        }
        let own = format!("_vectors/{}.commits/", c.name);
        if !c.key.starts_with(&own) || ObjectKey::parse(c.key.clone()).is_err() {
            return Err(format!(
                "index '{}' state '{}' is not under '{own}'",
                c.name,
                c.key.escape_default()
            ));
        }
        self.indexes
            .entry(c.name.clone())
            .or_insert_with(|| IndexLineage::new(&c.name))
            .push(c.clone())?;
        Ok(ChangeSummary {
            kind: ChangeKind::Index,
            name: c.name.clone(),
            op: lakehouse_types::ChangeOp::Commit,
            row_count: c.items,
            object_count: 0,
            rollback_of: None,
        })
    }

    pub(crate) fn to_checkpoint(&self) -> CheckpointRecord {
        CheckpointRecord {
            format: FORMAT,
            version: self.version,
            last_time_ms: self.last_time_ms,
            datasets: self.lineages.values().map(Lineage::to_record).collect(),
            indexes: self.indexes.values().map(IndexLineage::to_record).collect(),
            log: self.log.iter().cloned().collect(),
            log_floor: self.log_floor,
        }
    }

    pub(crate) fn from_checkpoint(r: CheckpointRecord) -> Result<Self, String> {
        if let Some(e) = format_error(r.format) {
            return Err(e);
        }
        let mut lineages = BTreeMap::new();
        for d in r.datasets {
            let l = Lineage::from_record(d)?;
            lineages.insert(l.name.clone(), l);
        }
        let mut indexes = BTreeMap::new();
        for i in r.indexes {
            let l = IndexLineage::from_record(i)?;
            indexes.insert(l.name.clone(), l);
        }
        Ok(Self {
            version: r.version,
            last_time_ms: r.last_time_ms,
            lineages,
            indexes,
            log: r.log.into(),
            log_floor: r.log_floor,
            since_checkpoint: 0,
        })
    }

    /// The catalog version `as_of` names.
    pub(crate) fn resolve(&self, as_of: &AsOf) -> Result<u64, CatalogError> {
        match as_of {
            AsOf::Version(v) => {
                if *v == 0 || *v > self.version {
                    return Err(CatalogError::VersionNotFound {
                        version: *v,
                        current: self.version,
                    });
                }
                Ok(*v)
            }
            AsOf::Time(t) => {
                let ms = parse_ms(t).ok_or_else(|| {
                    CatalogError::invalid(
                        "invalid_as_of",
                        format!(
                            "as_of '{}' is neither a catalog version nor an RFC 3339 time",
                            t.escape_default()
                        ),
                    )
                })?;
                let n = self
                    .log
                    .partition_point(|c| parse_ms(&c.time).is_some_and(|ct| ct <= ms));
                if n > 0 {
                    return Ok(self.log[n - 1].version);
                }
                // Before the listed log: the newest retained snapshot or index commit at or
                // before the time names a version at which every retained dataset and index
                // reads exactly as at that time.
                let from_snapshots = self
                    .lineages
                    .values()
                    .flat_map(|l| l.snaps.iter().map(|s| (s.rec.version, s.time_ms)))
                    .chain(
                        self.indexes
                            .values()
                            .flat_map(|l| l.commits.iter().map(|(c, t)| (c.version, *t))),
                    )
                    .filter(|(_, t)| *t <= ms)
                    .map(|(v, _)| v)
                    .max();
                if let Some(v) = from_snapshots {
                    return Ok(v);
                }
                if self.log_floor > 0 {
                    return Err(CatalogError::Expired(format!(
                        "the catalog's state at {t} was dropped by retention"
                    )));
                }
                Err(CatalogError::NotFound(format!(
                    "the catalog has no version at or before {t}"
                )))
            }
        }
    }

    /// Datasets that differ from `name` only in case and exist now.
    pub(crate) fn case_twin(&self, name: &str) -> Option<&str> {
        self.lineages
            .values()
            .find(|l| l.name != name && l.name.eq_ignore_ascii_case(name) && l.current().is_some())
            .map(|l| l.name.as_str())
    }

    /// Every dataset at version `v`, and those whose state then is expired.
    pub(crate) fn list_at(&self, v: u64) -> Result<(Vec<Manifest>, Vec<String>), CatalogError> {
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for l in self.lineages.values() {
            match l.at(v).map_err(CatalogError::Internal)? {
                At::Exists(m) => out.push(*m),
                At::Absent => {}
                At::Expired => expired.push(l.name.clone()),
            }
        }
        Ok((out, expired))
    }
}

/// What is wrong with a snapshot read from storage.
fn snapshot_error(name: &str, s: &SnapRecord) -> Option<String> {
    let b = s.body.as_ref()?;
    let objects = match &b.objects {
        Objects::Full(o) | Objects::Added(o) => o,
    };
    let probe = Manifest {
        name: name.to_owned(),
        schema_fingerprint: b.schema_fingerprint.clone(),
        schema: b.schema.clone(),
        objects: Vec::new(),
        row_count: 0,
        version: 0,
        catalog_version: 0,
        created_at: String::new(),
        updated_at: String::new(),
    };
    stored_manifest_error(&probe).or_else(|| {
        objects.iter().enumerate().find_map(|(i, o)| {
            ObjectKey::parse(o.key.clone())
                .err()
                .map(|e| e.to_string())
                .or_else(|| data_key_error(name, &o.key))
                .map(|e| format!("objects[{i}].key {e}"))
        })
    })
}
