//! Vector index commits: vectord stores an index's exact state, then records it here under
//! the next catalog version, so a search as of any retained version finds which state to
//! load.

use lakehouse_types::{AsOf, IndexCommitInfo, IndexCommitRequest, ObjectKey, name_error};

use crate::CatalogError;
use crate::catalog::Catalog;
use crate::index_lineage::{IndexAt, stem};
use crate::record::{ChangeRecord, CommitRecord, FORMAT};
use crate::store::ObjectStore;
use crate::time::{now_ms, rfc3339};

impl<S: ObjectStore> Catalog<S> {
    /// Records index `name`'s state `req` under the next catalog version.
    pub async fn commit_index(
        &self,
        name: &str,
        req: IndexCommitRequest,
        rid: &str,
    ) -> Result<IndexCommitInfo, CatalogError> {
        self.ensure_loaded()?;
        if let Some(e) = name_error("index", name) {
            return Err(CatalogError::invalid("invalid_name", e));
        }
        let own = format!("_vectors/{name}.commits/");
        if !req.key.starts_with(&own) || ObjectKey::parse(req.key.clone()).is_err() {
            return Err(CatalogError::invalid(
                "invalid_key",
                format!("key '{}' is not under '{own}'", req.key.escape_default()),
            ));
        }
        let _commit = self.commit.lock().await;
        self.ensure_loaded()?;
        self.guard_keys(&[req.key.clone(), stem(&req.key).to_owned()])?;
        let (version, time) = {
            let st = self.read();
            (st.version + 1, rfc3339(now_ms().max(st.last_time_ms)))
        };
        let info = IndexCommitInfo {
            name: name.to_owned(),
            version,
            time: time.clone(),
            key: req.key,
            sequence: req.sequence,
            items: req.items,
            dimension: req.dimension,
        };
        let c = CommitRecord {
            format: FORMAT,
            version,
            time,
            request_id: rid.to_owned(),
            changes: vec![ChangeRecord::Index {
                commit: info.clone(),
            }],
            leader_epoch: None,
        };
        self.write_commit(&c).await?;
        tracing::info!(index = %name, version, "index committed");
        Ok(info)
    }

    /// The commit of index `name` current at `as_of`.
    pub fn index_at(&self, name: &str, as_of: &AsOf) -> Result<IndexCommitInfo, CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let v = st.resolve(as_of)?;
        match st.indexes.get(name).map(|l| l.at(v)) {
            Some(IndexAt::Committed(c)) => Ok(c),
            Some(IndexAt::Expired) => Err(CatalogError::Expired(format!(
                "index '{name}' at catalog version {v} was dropped by retention"
            ))),
            Some(IndexAt::Absent) | None => Err(CatalogError::NotCommitted(format!(
                "index '{name}' has no commit at or before catalog version {v}"
            ))),
        }
    }
}
