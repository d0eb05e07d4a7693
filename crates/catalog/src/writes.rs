//! Register, append, delete and rollback: each builds the dataset's next snapshot from the
//! current one under the commit lock, and commits it.

use std::collections::HashSet;
use std::sync::PoisonError;

use lakehouse_types::{
    AppendRequest, ChangeOp, DataObject, Manifest, RegisterRequest, RegisterResponse,
    RollbackRequest,
};

use crate::CatalogError;
use crate::catalog::Catalog;
use crate::lineage::At;
use crate::record::{BodyRecord, ChangeRecord, CommitRecord, FORMAT, Objects, SnapRecord};
use crate::rules::{check_fingerprint, validate_common, validate_name, validate_schema};
use crate::store::{ObjectStore, log_key};
use crate::time::{now_ms, rfc3339};

/// The outcome of a register or append.
#[derive(Debug)]
pub struct Outcome {
    /// A new dataset (201) rather than a change to one (200).
    pub created: bool,
    /// The manifest after the call.
    pub response: RegisterResponse,
}

/// Where the next commit goes: its version, its time, and the dataset's state before it.
struct Next {
    version: u64,
    time: String,
    head: Option<u64>,
    current: Option<Manifest>,
}

fn check_expected(
    name: &str,
    current: Option<&Manifest>,
    expected: Option<u64>,
) -> Result<(), CatalogError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let now = current.map_or(0, |m| m.catalog_version);
    if expected == now {
        return Ok(());
    }
    Err(CatalogError::VersionConflict {
        name: name.to_owned(),
        expected,
        current: now,
    })
}

impl<S: ObjectStore> Catalog<S> {
    /// Writes commit `c` to the log, create-only: a version another instance made is never
    /// written over. When the store's answer is lost, reads the key back to learn what
    /// happened; when even that fails, reloads from storage, the only truth.
    pub(crate) async fn put_commit(&self, c: &CommitRecord) -> Result<(), CatalogError> {
        let key = log_key(c.version);
        let mut c = c.clone();
        c.leader_epoch = self.commit_epoch()?;
        let bytes = serde_json::to_vec(&c).map_err(|e| CatalogError::Internal(e.to_string()))?;
        let e = match self.store.put_new(&key, bytes.clone()).await {
            Ok(true) => return Ok(()),
            Ok(false) => {
                self.request_reload(&format!("{key} was committed by another catalogd"));
                return Err(CatalogError::NotLeader(format!(
                    "catalog version {} was committed by another catalogd instance; this one is reloading, retry",
                    c.version
                )));
            }
            Err(e) => e,
        };
        match self.store.get(&key).await {
            Ok(Some(b)) if b == bytes => Ok(()),
            Ok(None) => Err(CatalogError::Storage(e.0)),
            Ok(Some(_)) => {
                self.request_reload(&format!("{key} holds a commit this catalogd did not write"));
                Err(CatalogError::Storage(format!(
                    "{key} was written by someone else; is a second catalogd using this storage?"
                )))
            }
            Err(again) => {
                self.request_reload(&format!("the outcome of writing {key} is unknown: {again}"));
                Err(CatalogError::Storage(e.0))
            }
        }
    }

    /// Writes commit `c` and applies it (commit lock held); checkpoints when one is due.
    pub(crate) async fn write_commit(&self, c: &CommitRecord) -> Result<(), CatalogError> {
        if let Err(e) = self.put_commit(c).await {
            // Never reuse a version whose write may still land.
            self.write().version = c.version;
            return Err(e);
        }
        let (problems, due) = {
            let mut st = self.write();
            let problems = st.apply(c);
            (
                problems,
                st.since_checkpoint >= self.settings.checkpoint_every,
            )
        };
        if let Some(p) = problems.first() {
            self.request_reload(p);
            return Err(CatalogError::Internal(p.clone()));
        }
        if due && let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "checkpoint not written; the next commit tries again");
        }
        Ok(())
    }

    /// The next commit's place, checking the name and the precondition (commit lock held).
    fn next(&self, name: &str, expected: Option<u64>) -> Result<Next, CatalogError> {
        self.ensure_loaded()?;
        let st = self.read();
        let lineage = st.lineages.get(name);
        let current = lineage.and_then(|l| l.current().cloned());
        if current.is_none()
            && let Some(other) = st.case_twin(name)
        {
            return Err(CatalogError::conflict(
                "name_conflict",
                format!(
                    "dataset '{other}' already exists; names differing only in case would be the same SQL view"
                ),
            ));
        }
        check_expected(name, current.as_ref(), expected)?;
        Ok(Next {
            version: st.version + 1,
            time: rfc3339(now_ms().max(st.last_time_ms)),
            head: lineage.and_then(|l| l.head().map(|h| h.rec.version)),
            current,
        })
    }

    /// Refuses objects a running or recent collection deleted; tells a running one about
    /// the rest, so it keeps them.
    fn guard_objects(&self, objects: &[DataObject]) -> Result<(), CatalogError> {
        let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
        self.guard_keys(&keys)
    }

    /// As [`Self::guard_objects`], for keys (an index state is guarded by its stem, which
    /// covers its parts).
    pub(crate) fn guard_keys(&self, keys: &[String]) -> Result<(), CatalogError> {
        let mut gc = self.gc.lock().unwrap_or_else(PoisonError::into_inner);
        let grace = i64::try_from(self.settings.gc_grace.as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        if let Some(k) = keys
            .iter()
            .find(|k| gc.collected.get(*k).is_some_and(|t| now - t < grace))
        {
            return Err(CatalogError::conflict(
                "object_collected",
                format!(
                    "object '{k}' was deleted by garbage collection as unreferenced; upload it again"
                ),
            ));
        }
        if gc.active {
            gc.referenced_since.extend(keys.iter().cloned());
        }
        Ok(())
    }

    /// Commits one snapshot of `name` (commit lock held) and returns the manifest after it.
    async fn commit_snapshot(
        &self,
        name: &str,
        snapshot: SnapRecord,
        rid: &str,
    ) -> Result<Option<Manifest>, CatalogError> {
        let c = CommitRecord {
            format: FORMAT,
            version: snapshot.version,
            time: snapshot.time.clone(),
            request_id: rid.to_owned(),
            changes: vec![ChangeRecord::Dataset {
                name: name.to_owned(),
                snapshot,
            }],
            leader_epoch: None,
        };
        self.write_commit(&c).await?;
        tracing::info!(dataset = %name, version = c.version, "committed");
        Ok(self
            .read()
            .lineages
            .get(name)
            .and_then(|l| l.current().cloned()))
    }

    /// Register: new → created; same fingerprint and objects → unchanged; same fingerprint,
    /// other objects → replaced (the old objects stay in the older snapshot); other
    /// fingerprint → 409.
    pub async fn register(&self, req: RegisterRequest, rid: &str) -> Result<Outcome, CatalogError> {
        let name = req.name.clone();
        let out = self.register_commit(req, rid).await?;
        // `existing` is also true of a replace; a table already written costs no writes.
        self.publish_if(&name, true);
        Ok(out)
    }

    async fn register_commit(
        &self,
        req: RegisterRequest,
        rid: &str,
    ) -> Result<Outcome, CatalogError> {
        self.ensure_loaded()?;
        validate_common(&req.name, &req.schema_fingerprint, &req.objects)?;
        validate_schema(&req.schema)?;
        let sum = req.objects.iter().map(|o| o.row_count).sum::<u64>();
        if let Some(rc) = req.row_count.filter(|rc| *rc != sum) {
            return Err(CatalogError::invalid(
                "bad_request",
                format!(
                    "row_count {rc} does not equal the objects' row counts, which sum to {sum}"
                ),
            ));
        }
        let _commit = self.commit.lock().await;
        let next = self.next(&req.name, req.expected_version)?;
        let (op, body) = match &next.current {
            None => (
                ChangeOp::Create,
                BodyRecord {
                    schema_fingerprint: req.schema_fingerprint,
                    schema: req.schema,
                    row_count: sum,
                    seq: 1,
                    created_at: next.time.clone(),
                    updated_at: next.time.clone(),
                    objects: Objects::Full(req.objects),
                },
            ),
            Some(old) => {
                check_fingerprint(old, &req.schema_fingerprint)?;
                if old.objects == req.objects {
                    return Ok(Outcome {
                        created: false,
                        response: RegisterResponse {
                            manifest: old.clone(),
                            existing: true,
                        },
                    });
                }
                let schema = if req.schema.is_empty() {
                    old.schema.clone()
                } else {
                    req.schema
                };
                (
                    ChangeOp::Replace,
                    BodyRecord {
                        schema_fingerprint: req.schema_fingerprint,
                        schema,
                        row_count: sum,
                        seq: old.version + 1,
                        created_at: old.created_at.clone(),
                        updated_at: next.time.clone(),
                        objects: Objects::Full(req.objects),
                    },
                )
            }
        };
        if let Objects::Full(o) = &body.objects {
            self.guard_objects(o)?;
        }
        let created = op == ChangeOp::Create;
        let m = self
            .commit_snapshot(&req.name, snapshot(&next, op, Some(body)), rid)
            .await?
            .ok_or_else(|| CatalogError::Internal("a registered dataset is missing".into()))?;
        Ok(Outcome {
            created,
            response: RegisterResponse {
                manifest: m,
                existing: !created,
            },
        })
    }

    /// Adds objects not already in the dataset. `existing` is true when nothing was new.
    pub async fn append(&self, req: AppendRequest, rid: &str) -> Result<Outcome, CatalogError> {
        let name = req.name.clone();
        let out = self.append_commit(req, rid).await?;
        self.publish_if(&name, !out.response.existing);
        Ok(out)
    }

    async fn append_commit(&self, req: AppendRequest, rid: &str) -> Result<Outcome, CatalogError> {
        self.ensure_loaded()?;
        validate_common(&req.name, &req.schema_fingerprint, &req.objects)?;
        if req.create {
            validate_schema(&req.schema)?;
            if req.schema.is_empty() {
                return Err(CatalogError::invalid(
                    "bad_request",
                    "an append with create needs the schema, to create the dataset with",
                ));
            }
        }
        let _commit = self.commit.lock().await;
        let next = self.next(&req.name, req.expected_version)?;
        let Some(old) = &next.current else {
            if !req.create {
                return Err(CatalogError::NotFound(format!(
                    "no dataset named '{}'",
                    req.name
                )));
            }
            let mut seen = HashSet::new();
            let objects: Vec<DataObject> = req
                .objects
                .into_iter()
                .filter(|o| seen.insert(o.key.clone()))
                .collect();
            self.guard_objects(&objects)?;
            let body = BodyRecord {
                schema_fingerprint: req.schema_fingerprint,
                schema: req.schema,
                row_count: objects.iter().map(|o| o.row_count).sum(),
                seq: 1,
                created_at: next.time.clone(),
                updated_at: next.time.clone(),
                objects: Objects::Full(objects),
            };
            let m = self
                .commit_snapshot(
                    &req.name,
                    snapshot(&next, ChangeOp::Create, Some(body)),
                    rid,
                )
                .await?
                .ok_or_else(|| CatalogError::Internal("a created dataset is missing".into()))?;
            return Ok(Outcome {
                created: true,
                response: RegisterResponse {
                    manifest: m,
                    existing: false,
                },
            });
        };
        check_fingerprint(old, &req.schema_fingerprint)?;
        let have: HashSet<&str> = old.objects.iter().map(|o| o.key.as_str()).collect();
        let new: Vec<DataObject> = req
            .objects
            .into_iter()
            .filter(|o| !have.contains(o.key.as_str()))
            .collect();
        if new.is_empty() {
            return Ok(Outcome {
                created: false,
                response: RegisterResponse {
                    manifest: old.clone(),
                    existing: true,
                },
            });
        }
        self.guard_objects(&new)?;
        let mut schema = old.schema.clone();
        if req.schema.len() == schema.len() {
            for (have, got) in schema.iter_mut().zip(&req.schema) {
                have.nullable |= got.nullable;
            }
        }
        let body = BodyRecord {
            schema_fingerprint: old.schema_fingerprint.clone(),
            schema,
            row_count: old.row_count + new.iter().map(|o| o.row_count).sum::<u64>(),
            seq: old.version + 1,
            created_at: old.created_at.clone(),
            updated_at: next.time.clone(),
            objects: Objects::Added(new),
        };
        let m = self
            .commit_snapshot(
                &req.name,
                snapshot(&next, ChangeOp::Append, Some(body)),
                rid,
            )
            .await?
            .ok_or_else(|| CatalogError::Internal("an appended dataset is missing".into()))?;
        Ok(Outcome {
            created: false,
            response: RegisterResponse {
                manifest: m,
                existing: false,
            },
        })
    }

    /// Ends the dataset. Its data stays, in its snapshots, until retention expires them.
    pub async fn delete(
        &self,
        name: &str,
        expected: Option<u64>,
        rid: &str,
    ) -> Result<u64, CatalogError> {
        self.ensure_loaded()?;
        let _commit = self.commit.lock().await;
        let next = self.next(name, expected)?;
        if next.current.is_none() {
            return Err(CatalogError::NotFound(format!("no dataset named '{name}'")));
        }
        self.commit_snapshot(name, snapshot(&next, ChangeOp::Delete, None), rid)
            .await?;
        Ok(next.version)
    }

    /// Makes the dataset what it was at `req.version`, as a new commit.
    pub async fn rollback(
        &self,
        name: &str,
        req: RollbackRequest,
        rid: &str,
    ) -> Result<Manifest, CatalogError> {
        let m = self.rollback_commit(name, req, rid).await?;
        self.publish_if(name, true);
        Ok(m)
    }

    async fn rollback_commit(
        &self,
        name: &str,
        req: RollbackRequest,
        rid: &str,
    ) -> Result<Manifest, CatalogError> {
        self.ensure_loaded()?;
        validate_name(name)?;
        let _commit = self.commit.lock().await;
        let next = self.next(name, req.expected_version)?;
        let (target, max_seq) = {
            let st = self.read();
            let max_seq = st.lineages.get(name).map_or(0, |l| l.max_seq());
            let v = st.resolve(&lakehouse_types::AsOf::Version(req.version))?;
            let target = match st.lineages.get(name).map(|l| l.at(v)) {
                Some(Ok(At::Exists(m))) => *m,
                Some(Ok(At::Expired)) => {
                    return Err(CatalogError::Expired(format!(
                        "dataset '{name}' at catalog version {v} was dropped by retention"
                    )));
                }
                Some(Err(e)) => return Err(CatalogError::Internal(e)),
                Some(Ok(At::Absent)) | None => {
                    return Err(CatalogError::conflict(
                        "not_at_version",
                        format!("dataset '{name}' did not exist at catalog version {v}"),
                    ));
                }
            };
            (target, max_seq)
        };
        let body = BodyRecord {
            schema_fingerprint: target.schema_fingerprint,
            schema: target.schema,
            row_count: target.row_count,
            seq: max_seq + 1,
            created_at: target.created_at,
            updated_at: next.time.clone(),
            objects: Objects::Full(target.objects),
        };
        let mut snap = snapshot(&next, ChangeOp::Rollback, Some(body));
        snap.rollback_of = Some(req.version);
        self.commit_snapshot(name, snap, rid)
            .await?
            .ok_or_else(|| CatalogError::Internal("a rolled back dataset is missing".into()))
    }
}

fn snapshot(next: &Next, op: ChangeOp, body: Option<BodyRecord>) -> SnapRecord {
    SnapRecord {
        version: next.version,
        parent: next.head,
        op,
        time: next.time.clone(),
        rollback_of: None,
        body,
    }
}
