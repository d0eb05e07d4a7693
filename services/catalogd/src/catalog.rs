//! The catalog: manifests in memory, written through to storage before any answer.
//!
//! Writers to one dataset name are serialized by a per-name lock (keyed by the lowercased
//! name, since SQL sees `Sales` and `sales` as the same view), so concurrent appends never
//! lose an update. Readers take a snapshot and never wait for storage.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use lakehouse_client::ClientError;
use lakehouse_common::ApiError;
use lakehouse_types::{
    AppendRequest, Column, DataObject, Manifest, ObjectKey, RegisterRequest, RegisterResponse,
    column_type_error, data_key_error, dataset_name_error,
};

use crate::store::ManifestStore;

/// The outcome of a register or append, with the HTTP status it deserves.
#[derive(Debug)]
pub struct Outcome {
    /// 201 for a new dataset, 200 otherwise.
    pub created: bool,
    /// The manifest after the call.
    pub response: RegisterResponse,
}

/// Shared catalog state.
#[derive(Debug)]
pub struct Catalog {
    store: ManifestStore,
    manifests: RwLock<BTreeMap<String, Manifest>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    version: AtomicU64,
    loaded: AtomicBool,
    load_error: Mutex<Option<String>>,
    skipped: Mutex<Vec<String>>,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn storage_error(e: &ClientError) -> ApiError {
    ApiError::bad_gateway(format!("storage: {e}")).with_code("storage_unavailable")
}

fn lock_poisoned<T>(_: T) -> ApiError {
    ApiError::internal("catalog lock poisoned")
}

impl Catalog {
    /// An empty, not yet loaded catalog. The version starts at the current time in
    /// microseconds so that it keeps growing across restarts.
    pub fn new(store: ManifestStore) -> Arc<Self> {
        let start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
        Arc::new(Self {
            store,
            manifests: RwLock::default(),
            locks: Mutex::default(),
            version: AtomicU64::new(start),
            loaded: AtomicBool::new(false),
            load_error: Mutex::new(None),
            skipped: Mutex::default(),
        })
    }

    /// Loads every manifest, retrying with backoff until storage answers.
    pub async fn load(&self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let rid = lakehouse_common::request_id::generate();
            match self.store.load_all(&rid).await {
                Ok(loaded) => {
                    for s in &loaded.skipped {
                        tracing::warn!(problem = %s, "manifest skipped");
                    }
                    let count = loaded.manifests.len();
                    if let Ok(mut map) = self.manifests.write() {
                        *map = loaded
                            .manifests
                            .into_iter()
                            .map(|m| (m.name.clone(), m))
                            .collect();
                    }
                    if let Ok(mut s) = self.skipped.lock() {
                        *s = loaded.skipped;
                    }
                    if let Ok(mut e) = self.load_error.lock() {
                        *e = None;
                    }
                    self.version.fetch_add(1, Ordering::SeqCst);
                    self.loaded.store(true, Ordering::SeqCst);
                    tracing::info!(manifests = count, "catalog loaded");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot load manifests");
                    if let Ok(mut slot) = self.load_error.lock() {
                        *slot = Some(e.to_string());
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Why the catalog cannot answer yet, if it cannot.
    pub fn not_ready(&self) -> Option<String> {
        if self.loaded.load(Ordering::SeqCst) {
            return None;
        }
        let last = self.load_error.lock().ok().and_then(|e| e.clone());
        Some(match last {
            Some(e) => format!("loading manifests from storage (last attempt: {e})"),
            None => "loading manifests from storage".into(),
        })
    }

    /// Manifest objects skipped at load.
    pub fn skipped(&self) -> Vec<String> {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn ensure_loaded(&self) -> Result<(), ApiError> {
        match self.not_ready() {
            None => Ok(()),
            Some(why) => Err(ApiError::unavailable(why).with_code("not_ready")),
        }
    }

    /// The catalog version.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// One manifest.
    pub fn get(&self, name: &str) -> Result<Manifest, ApiError> {
        self.ensure_loaded()?;
        let map = self.manifests.read().map_err(lock_poisoned)?;
        map.get(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no dataset named '{name}'")))
    }

    /// Every manifest, by name, with the version they are at.
    pub fn list(&self) -> Result<(Vec<Manifest>, u64), ApiError> {
        self.ensure_loaded()?;
        let map = self.manifests.read().map_err(lock_poisoned)?;
        Ok((map.values().cloned().collect(), self.version()))
    }

    fn name_lock(&self, name: &str) -> Result<Arc<tokio::sync::Mutex<()>>, ApiError> {
        let mut locks = self.locks.lock().map_err(lock_poisoned)?;
        Ok(locks.entry(name.to_ascii_lowercase()).or_default().clone())
    }

    fn current(&self, name: &str) -> Result<Option<Manifest>, ApiError> {
        let map = self.manifests.read().map_err(lock_poisoned)?;
        if let Some(other) = map
            .keys()
            .find(|k| k.as_str() != name && k.eq_ignore_ascii_case(name))
        {
            return Err(ApiError::conflict(format!(
                "dataset '{other}' already exists; names differing only in case would be the same SQL view"
            ))
            .with_code("name_conflict"));
        }
        Ok(map.get(name).cloned())
    }

    async fn commit(&self, m: Manifest, rid: &str) -> Result<(), ApiError> {
        self.store
            .put(&m, rid)
            .await
            .map_err(|e| storage_error(&e))?;
        let mut map = self.manifests.write().map_err(lock_poisoned)?;
        map.insert(m.name.clone(), m);
        self.version.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Register contract: new → created; same fingerprint and objects → unchanged; same
    /// fingerprint, other objects → replaced (version + 1); other fingerprint → 409.
    pub async fn register(&self, req: RegisterRequest, rid: &str) -> Result<Outcome, ApiError> {
        self.ensure_loaded()?;
        validate_common(&req.name, &req.schema_fingerprint, &req.objects)?;
        validate_schema(&req.schema)?;
        let sum = req.objects.iter().map(|o| o.row_count).sum::<u64>();
        if let Some(rc) = req.row_count.filter(|rc| *rc != sum) {
            return Err(ApiError::bad_request(format!(
                "row_count {rc} does not equal the objects' row counts, which sum to {sum}"
            )));
        }
        let lock = self.name_lock(&req.name)?;
        let _guard = lock.lock().await;
        let now = now_rfc3339();
        let Some(old) = self.current(&req.name)? else {
            let m = Manifest {
                name: req.name,
                schema_fingerprint: req.schema_fingerprint,
                schema: req.schema,
                objects: req.objects,
                row_count: sum,
                version: 1,
                created_at: now.clone(),
                updated_at: now,
            };
            self.commit(m.clone(), rid).await?;
            tracing::info!(dataset = %m.name, version = m.version, "dataset registered");
            return Ok(Outcome {
                created: true,
                response: RegisterResponse {
                    manifest: m,
                    existing: false,
                },
            });
        };
        check_fingerprint(&old, &req.schema_fingerprint)?;
        if old.objects == req.objects {
            return Ok(Outcome {
                created: false,
                response: RegisterResponse {
                    manifest: old,
                    existing: true,
                },
            });
        }
        let kept: HashSet<&str> = req.objects.iter().map(|o| o.key.as_str()).collect();
        let dropped: Vec<String> = old
            .objects
            .iter()
            .filter(|o| !kept.contains(o.key.as_str()))
            .map(|o| o.key.clone())
            .collect();
        let m = Manifest {
            schema: if req.schema.is_empty() {
                old.schema.clone()
            } else {
                req.schema
            },
            objects: req.objects,
            row_count: sum,
            version: old.version + 1,
            updated_at: now,
            ..old
        };
        self.commit(m.clone(), rid).await?;
        tracing::info!(dataset = %m.name, version = m.version, dropped = dropped.len(), "dataset replaced");
        self.delete_objects(&dropped, rid).await;
        Ok(Outcome {
            created: false,
            response: RegisterResponse {
                manifest: m,
                existing: true,
            },
        })
    }

    /// Adds objects not already in the manifest. `existing` is true when nothing was new.
    pub async fn append(&self, req: AppendRequest, rid: &str) -> Result<Outcome, ApiError> {
        self.ensure_loaded()?;
        validate_common(&req.name, &req.schema_fingerprint, &req.objects)?;
        if req.create {
            validate_schema(&req.schema)?;
            if req.schema.is_empty() {
                return Err(ApiError::bad_request(
                    "an append with create needs the schema, to create the dataset with",
                ));
            }
        }
        let lock = self.name_lock(&req.name)?;
        let _guard = lock.lock().await;
        let Some(old) = self.current(&req.name)? else {
            if !req.create {
                return Err(ApiError::not_found(format!(
                    "no dataset named '{}'",
                    req.name
                )));
            }
            // Created under the name's lock: two appenders racing to create both land, in
            // turn, instead of one replacing the other's objects as a register would.
            let now = now_rfc3339();
            let mut seen = HashSet::new();
            let objects: Vec<DataObject> = req
                .objects
                .into_iter()
                .filter(|o| seen.insert(o.key.clone()))
                .collect();
            let m = Manifest {
                name: req.name,
                schema_fingerprint: req.schema_fingerprint,
                schema: req.schema,
                row_count: objects.iter().map(|o| o.row_count).sum(),
                objects,
                version: 1,
                created_at: now.clone(),
                updated_at: now,
            };
            self.commit(m.clone(), rid).await?;
            tracing::info!(dataset = %m.name, version = m.version, "dataset created by append");
            return Ok(Outcome {
                created: true,
                response: RegisterResponse {
                    manifest: m,
                    existing: false,
                },
            });
        };
        check_fingerprint(&old, &req.schema_fingerprint)?;
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
                    manifest: old,
                    existing: true,
                },
            });
        }
        let mut m = old;
        if req.schema.len() == m.schema.len() {
            for (have, got) in m.schema.iter_mut().zip(&req.schema) {
                have.nullable |= got.nullable;
            }
        }
        m.row_count += new.iter().map(|o| o.row_count).sum::<u64>();
        m.objects.extend(new);
        m.version += 1;
        m.updated_at = now_rfc3339();
        self.commit(m.clone(), rid).await?;
        tracing::info!(dataset = %m.name, version = m.version, "dataset appended");
        Ok(Outcome {
            created: false,
            response: RegisterResponse {
                manifest: m,
                existing: false,
            },
        })
    }

    /// Removes the manifest (durably, first), then its data objects.
    pub async fn delete(&self, name: &str, rid: &str) -> Result<(), ApiError> {
        self.ensure_loaded()?;
        let lock = self.name_lock(name)?;
        let _guard = lock.lock().await;
        let old = self
            .manifests
            .read()
            .map_err(lock_poisoned)?
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no dataset named '{name}'")))?;
        self.store
            .delete(name, rid)
            .await
            .map_err(|e| storage_error(&e))?;
        self.manifests.write().map_err(lock_poisoned)?.remove(name);
        self.version.fetch_add(1, Ordering::SeqCst);
        tracing::info!(dataset = %name, "dataset deleted");
        let keys: Vec<String> = old.objects.into_iter().map(|o| o.key).collect();
        self.delete_objects(&keys, rid).await;
        Ok(())
    }

    /// Best effort: the manifest no longer names these, so a failure leaves an orphan, never a
    /// dangling reference.
    async fn delete_objects(&self, keys: &[String], rid: &str) {
        for k in keys {
            let Ok(key) = ObjectKey::parse(k.clone()) else {
                continue;
            };
            if let Err(e) = self.store.storage().delete(&key, rid).await
                && e.status() != Some(reqwest::StatusCode::NOT_FOUND)
            {
                tracing::warn!(key = %k, error = %e, "could not delete a data object; it is now an orphan");
            }
        }
    }
}

fn check_fingerprint(m: &Manifest, fingerprint: &str) -> Result<(), ApiError> {
    if m.schema_fingerprint == fingerprint {
        return Ok(());
    }
    Err(ApiError::conflict(format!(
        "dataset '{}' has schema fingerprint {}; the request has {}",
        m.name, m.schema_fingerprint, fingerprint
    ))
    .with_code("schema_mismatch"))
}

fn validate_common(name: &str, fingerprint: &str, objects: &[DataObject]) -> Result<(), ApiError> {
    if let Some(e) = dataset_name_error(name) {
        return Err(ApiError::bad_request(e).with_code("invalid_name"));
    }
    if fingerprint.trim().is_empty() {
        return Err(ApiError::bad_request("schema_fingerprint is empty"));
    }
    let mut seen = HashSet::new();
    for (i, o) in objects.iter().enumerate() {
        if let Err(e) = ObjectKey::parse(o.key.clone()) {
            return Err(ApiError::bad_request(format!(
                "objects[{i}].key '{}': {e}",
                o.key.escape_default()
            ))
            .with_code("invalid_key"));
        }
        if let Some(e) = data_key_error(name, &o.key) {
            return Err(
                ApiError::bad_request(format!("objects[{i}].key {e}")).with_code("invalid_key")
            );
        }
        if !seen.insert(o.key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "objects[{i}].key '{}' appears twice",
                o.key
            )));
        }
    }
    Ok(())
}

fn validate_schema(schema: &[Column]) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for (i, c) in schema.iter().enumerate() {
        if c.name.is_empty() {
            return Err(ApiError::bad_request(format!("schema[{i}].name is empty")));
        }
        if let Some(e) = column_type_error(&c.ty) {
            return Err(
                ApiError::bad_request(format!("schema[{i}].{e}")).with_code("invalid_schema")
            );
        }
        if !seen.insert(c.name.to_lowercase()) {
            return Err(ApiError::bad_request(format!(
                "schema[{i}].name '{}' appears twice (column names are case-insensitive)",
                c.name
            )));
        }
    }
    Ok(())
}
