//! One dataset name's history in memory: its retained snapshots, the manifest each one
//! stands for, and retention.
//!
//! The current manifest is kept whole so current reads never walk history; an older one is
//! rebuilt by following parents back to a snapshot that holds its objects whole.

use std::collections::HashSet;

use lakehouse_types::{DataObject, Manifest, SnapshotInfo};

use crate::record::{BodyRecord, LineageRecord, Objects, SnapRecord};
use crate::time::parse_ms;

/// A snapshot and its time in milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct Snap {
    pub(crate) rec: SnapRecord,
    pub(crate) time_ms: i64,
}

/// What a dataset was at some version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum At {
    /// It existed, as this.
    Exists(Box<Manifest>),
    /// It did not exist (never yet, or deleted).
    Absent,
    /// Its state then was dropped by retention.
    Expired,
}

/// A dataset name's history.
#[derive(Debug, Clone)]
pub(crate) struct Lineage {
    pub(crate) name: String,
    /// Retained snapshots, ascending by version.
    pub(crate) snaps: Vec<Snap>,
    /// The newest snapshot that retention dropped.
    pub(crate) expired_through: Option<u64>,
    /// The first snapshot the name ever had, retained or not.
    first_version: Option<u64>,
    current: Option<Manifest>,
    /// How many times retention changed this history in this process (the Iceberg files
    /// written for an older count may name files that are no longer the table's).
    pub(crate) expiries: u64,
}

impl Lineage {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            snaps: Vec::new(),
            expired_through: None,
            first_version: None,
            current: None,
            expiries: 0,
        }
    }

    /// Rebuilds from a checkpoint's record.
    pub(crate) fn from_record(r: LineageRecord) -> Result<Self, String> {
        let mut l = Self::new(&r.name);
        l.expired_through = r.expired_through;
        l.first_version = r.first_version;
        for s in r.snapshots {
            l.push(s)?;
        }
        Ok(l)
    }

    pub(crate) fn to_record(&self) -> LineageRecord {
        LineageRecord {
            name: self.name.clone(),
            snapshots: self.snaps.iter().map(|s| s.rec.clone()).collect(),
            expired_through: self.expired_through,
            first_version: self.first_version,
        }
    }

    /// The first snapshot the name ever had, retained or not.
    pub(crate) fn first_version(&self) -> Option<u64> {
        self.first_version
    }

    /// The current manifest, if the dataset exists.
    pub(crate) fn current(&self) -> Option<&Manifest> {
        self.current.as_ref()
    }

    /// The newest snapshot.
    pub(crate) fn head(&self) -> Option<&Snap> {
        self.snaps.last()
    }

    /// The highest dataset counter any retained snapshot had.
    pub(crate) fn max_seq(&self) -> u64 {
        self.snaps
            .iter()
            .filter_map(|s| s.rec.body.as_ref().map(|b| b.seq))
            .max()
            .unwrap_or(0)
    }

    fn index_of(&self, version: u64) -> Option<usize> {
        self.snaps
            .binary_search_by_key(&version, |s| s.rec.version)
            .ok()
    }

    /// Appends the next snapshot (its version must be the newest).
    pub(crate) fn push(&mut self, rec: SnapRecord) -> Result<(), String> {
        if self.head().is_some_and(|h| h.rec.version >= rec.version) {
            return Err(format!(
                "snapshot {} of '{}' is not newer than {}",
                rec.version,
                self.name,
                self.head().map_or(0, |h| h.rec.version)
            ));
        }
        let time_ms = parse_ms(&rec.time)
            .ok_or_else(|| format!("snapshot {} has a bad time '{}'", rec.version, rec.time))?;
        let appended_to_head = matches!(
            rec.body.as_ref().map(|b| &b.objects),
            Some(Objects::Added(_))
        ) && rec.parent.is_some()
            && rec.parent == self.head().map(|h| h.rec.version);
        let fast = match (&mut self.current, &rec.body) {
            (Some(m), Some(b)) if appended_to_head => {
                if let Objects::Added(added) = &b.objects {
                    m.objects.extend(added.iter().cloned());
                }
                fill(m, &rec, b);
                true
            }
            _ => false,
        };
        let version = rec.version;
        self.snaps.push(Snap { rec, time_ms });
        if !fast {
            match self.manifest_at(self.snaps.len() - 1) {
                Ok(m) => self.current = m,
                Err(e) => {
                    self.snaps.pop();
                    return Err(e);
                }
            }
        }
        self.first_version = self.first_version.or(Some(version));
        Ok(())
    }

    /// The objects of snapshot `idx`, following parents through appends.
    fn objects_at(&self, idx: usize) -> Result<Vec<DataObject>, String> {
        let mut adds: Vec<&[DataObject]> = Vec::new();
        let mut at = idx;
        loop {
            let s = &self.snaps[at];
            let body = s
                .rec
                .body
                .as_ref()
                .ok_or_else(|| format!("snapshot {} is a delete", s.rec.version))?;
            match &body.objects {
                Objects::Full(all) => {
                    let mut out =
                        Vec::with_capacity(all.len() + adds.iter().map(|a| a.len()).sum::<usize>());
                    out.extend(all.iter().cloned());
                    for a in adds.iter().rev() {
                        out.extend(a.iter().cloned());
                    }
                    return Ok(out);
                }
                Objects::Added(a) => {
                    adds.push(a);
                    at = s.rec.parent.and_then(|p| self.index_of(p)).ok_or_else(|| {
                        format!(
                            "snapshot {} of '{}' appends to {:?}, which is not retained",
                            s.rec.version, self.name, s.rec.parent
                        )
                    })?;
                }
            }
        }
    }

    fn manifest_at(&self, idx: usize) -> Result<Option<Manifest>, String> {
        let s = &self.snaps[idx];
        let Some(b) = &s.rec.body else {
            return Ok(None);
        };
        let mut m = Manifest {
            name: self.name.clone(),
            schema_fingerprint: String::new(),
            schema: Vec::new(),
            objects: self.objects_at(idx)?,
            row_count: 0,
            version: 0,
            catalog_version: 0,
            created_at: String::new(),
            updated_at: String::new(),
        };
        fill(&mut m, &s.rec, b);
        Ok(Some(m))
    }

    /// What the dataset was at catalog version `v`.
    pub(crate) fn at(&self, v: u64) -> Result<At, String> {
        let n = self.snaps.partition_point(|s| s.rec.version <= v);
        if n == 0 {
            return Ok(match self.first_version {
                Some(f) if f <= v => At::Expired,
                _ => At::Absent,
            });
        }
        if n == self.snaps.len() {
            return Ok(self
                .current
                .clone()
                .map_or(At::Absent, |m| At::Exists(Box::new(m))));
        }
        Ok(self
            .manifest_at(n - 1)?
            .map_or(At::Absent, |m| At::Exists(Box::new(m))))
    }

    /// Retained snapshots, newest first.
    pub(crate) fn history(&self) -> Vec<SnapshotInfo> {
        let mut counts: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
        let mut out: Vec<SnapshotInfo> = Vec::with_capacity(self.snaps.len());
        for s in &self.snaps {
            let (exists, fp, rows, objects) = match &s.rec.body {
                Some(b) => {
                    let objects = match &b.objects {
                        Objects::Full(all) => all.len() as u64,
                        Objects::Added(a) => {
                            s.rec
                                .parent
                                .and_then(|p| counts.get(&p).copied())
                                .unwrap_or(0)
                                + a.len() as u64
                        }
                    };
                    (true, b.schema_fingerprint.clone(), b.row_count, objects)
                }
                None => (false, String::new(), 0, 0),
            };
            counts.insert(s.rec.version, objects);
            out.push(SnapshotInfo {
                version: s.rec.version,
                parent: s.rec.parent,
                op: s.rec.op,
                time: s.rec.time.clone(),
                exists,
                row_count: rows,
                object_count: objects,
                schema_fingerprint: fp,
                rollback_of: s.rec.rollback_of,
            });
        }
        out.reverse();
        out
    }

    /// Every object key a retained snapshot references.
    pub(crate) fn referenced(&self, into: &mut HashSet<String>) {
        for s in &self.snaps {
            if let Some(b) = &s.rec.body {
                let objs = match &b.objects {
                    Objects::Full(o) | Objects::Added(o) => o,
                };
                into.extend(objs.iter().map(|o| o.key.clone()));
            }
        }
    }

    /// Drops what retention no longer keeps: all but the newest `keep_versions` snapshots that
    /// are older than `cutoff_ms`; a deleted dataset whose delete is older than the cutoff
    /// goes entirely. Returns how many snapshots were dropped.
    pub(crate) fn expire(&mut self, keep_versions: usize, cutoff_ms: i64) -> Result<usize, String> {
        let Some(head) = self.head() else {
            return Ok(0);
        };
        let first_kept = if head.rec.body.is_none() && head.time_ms < cutoff_ms {
            self.snaps.len()
        } else {
            let by_count = self.snaps.len().saturating_sub(keep_versions.max(1));
            let by_age = self.snaps.partition_point(|s| s.time_ms < cutoff_ms);
            by_count.min(by_age)
        };
        if first_kept == 0 {
            return Ok(0);
        }
        let cut = self
            .snaps
            .get(first_kept)
            .map_or(u64::MAX, |s| s.rec.version);
        // A kept append whose parent goes must hold its objects whole from now on.
        for i in first_kept..self.snaps.len() {
            let needs = matches!(
                self.snaps[i].rec.body.as_ref().map(|b| &b.objects),
                Some(Objects::Added(_))
            ) && self.snaps[i].rec.parent.is_none_or(|p| p < cut);
            if needs {
                let all = self.objects_at(i)?;
                if let Some(b) = self.snaps[i].rec.body.as_mut() {
                    b.objects = Objects::Full(all);
                }
            }
        }
        let dropped: Vec<Snap> = self.snaps.drain(..first_kept).collect();
        self.expiries += 1;
        self.expired_through = dropped
            .last()
            .map(|s| s.rec.version)
            .max(self.expired_through);
        if self.snaps.is_empty() {
            self.current = None;
        }
        Ok(dropped.len())
    }
}

/// Copies a snapshot's fields (all but the objects) into a manifest.
fn fill(m: &mut Manifest, rec: &SnapRecord, b: &BodyRecord) {
    m.schema_fingerprint.clone_from(&b.schema_fingerprint);
    m.schema.clone_from(&b.schema);
    m.row_count = b.row_count;
    m.version = b.seq;
    m.catalog_version = rec.version;
    m.created_at.clone_from(&b.created_at);
    m.updated_at.clone_from(&b.updated_at);
}
