//! One vector index's commits in memory: each records where the index's state at a catalog
//! version is stored, so a search as of that version can load exactly it.

use std::collections::HashSet;

use lakehouse_types::IndexCommitInfo;

use crate::record::IndexLineageRecord;
use crate::time::parse_ms;

/// What an index was at some version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexAt {
    /// Committed, as this.
    Committed(IndexCommitInfo),
    /// No commit at or before that version.
    Absent,
    /// Its commit then was dropped by retention.
    Expired,
}

/// An index's commits, ascending by version.
#[derive(Debug, Clone)]
pub(crate) struct IndexLineage {
    pub(crate) name: String,
    pub(crate) commits: Vec<(IndexCommitInfo, i64)>,
    pub(crate) expired_through: Option<u64>,
    first_version: Option<u64>,
}

/// The stem of a stored state (`…/<seq>` of `…/<seq>.lhv1` and of its parts
/// `…/<seq>.parts/…`), by which a collection knows which objects a commit holds.
pub(crate) fn stem(key: &str) -> &str {
    if let Some(i) = key.find(".parts/") {
        return &key[..i];
    }
    key.strip_suffix(".lhv1").unwrap_or(key)
}

impl IndexLineage {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            commits: Vec::new(),
            expired_through: None,
            first_version: None,
        }
    }

    pub(crate) fn from_record(r: IndexLineageRecord) -> Result<Self, String> {
        let mut l = Self::new(&r.name);
        for c in r.commits {
            l.push(c)?;
        }
        l.expired_through = r.expired_through;
        l.first_version = r.first_version.or(l.first_version);
        Ok(l)
    }

    pub(crate) fn to_record(&self) -> IndexLineageRecord {
        IndexLineageRecord {
            name: self.name.clone(),
            commits: self.commits.iter().map(|(c, _)| c.clone()).collect(),
            expired_through: self.expired_through,
            first_version: self.first_version,
        }
    }

    pub(crate) fn push(&mut self, c: IndexCommitInfo) -> Result<(), String> {
        if self
            .commits
            .last()
            .is_some_and(|(l, _)| l.version >= c.version)
        {
            return Err(format!(
                "commit {} of index '{}' is not newer than the last",
                c.version, self.name
            ));
        }
        let ms = parse_ms(&c.time)
            .ok_or_else(|| format!("commit {} has a bad time '{}'", c.version, c.time))?;
        self.first_version = self.first_version.or(Some(c.version));
        self.commits.push((c, ms));
        Ok(())
    }

    pub(crate) fn at(&self, v: u64) -> IndexAt {
        let n = self.commits.partition_point(|(c, _)| c.version <= v);
        if n > 0 {
            return IndexAt::Committed(self.commits[n - 1].0.clone());
        }
        match self.first_version {
            Some(f) if f <= v => IndexAt::Expired,
            _ => IndexAt::Absent,
        }
    }

    /// Retention as for datasets: the newest `keep` commits and those younger than the
    /// cutoff stay; the newest always does.
    pub(crate) fn expire(&mut self, keep: usize, cutoff_ms: i64) -> usize {
        let by_count = self.commits.len().saturating_sub(keep.max(1));
        let by_age = self.commits.partition_point(|(_, t)| *t < cutoff_ms);
        let first_kept = by_count.min(by_age);
        let dropped: Vec<_> = self.commits.drain(..first_kept).collect();
        if let Some((last, _)) = dropped.last() {
            self.expired_through = Some(last.version).max(self.expired_through);
        }
        dropped.len()
    }

    /// The stems of every retained commit's stored state.
    pub(crate) fn referenced(&self, into: &mut HashSet<String>) {
        into.extend(self.commits.iter().map(|(c, _)| stem(&c.key).to_owned()));
    }
}
