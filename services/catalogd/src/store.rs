//! Manifests in object storage: one JSON object per dataset at `_catalog/manifests/<name>.json`.

use lakehouse_client::{ClientError, StorageClient};
use lakehouse_types::{Manifest, ObjectKey, column_type_error, data_key_error, dataset_name_error};

/// Where manifests live.
pub const PREFIX: &str = "_catalog/manifests/";

/// The storage key of `name`'s manifest.
pub fn manifest_key(name: &str) -> Result<ObjectKey, String> {
    ObjectKey::parse(format!("{PREFIX}{name}.json")).map_err(|e| e.to_string())
}

/// Reads and writes manifests through storaged.
#[derive(Debug, Clone)]
pub struct ManifestStore {
    storage: StorageClient,
}

/// What a full load found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Manifests that parsed and matched their key.
    pub manifests: Vec<Manifest>,
    /// One line per object that was skipped, with the reason.
    pub skipped: Vec<String>,
}

impl ManifestStore {
    /// Wraps a storaged client.
    pub fn new(storage: StorageClient) -> Self {
        Self { storage }
    }

    /// The storage client, for deleting data objects.
    pub fn storage(&self) -> &StorageClient {
        &self.storage
    }

    /// Writes `m` durably; returns once storaged acknowledged it.
    pub async fn put(&self, m: &Manifest, rid: &str) -> Result<(), ClientError> {
        let key = manifest_key(&m.name).map_err(|message| ClientError::Decode {
            url: String::new(),
            message,
        })?;
        let body = serde_json::to_vec_pretty(m).unwrap_or_default();
        self.storage.put(&key, body, rid).await?;
        Ok(())
    }

    /// Removes `name`'s manifest; a missing one is not an error.
    pub async fn delete(&self, name: &str, rid: &str) -> Result<(), ClientError> {
        let Ok(key) = manifest_key(name) else {
            return Ok(());
        };
        match self.storage.delete(&key, rid).await {
            Err(e) if e.status() != Some(reqwest::StatusCode::NOT_FOUND) => Err(e),
            _ => Ok(()),
        }
    }

    /// Every manifest in storage. Transport failures fail the whole load (the caller retries);
    /// an object that is not a valid manifest for its key is skipped and reported.
    pub async fn load_all(&self, rid: &str) -> Result<Loaded, ClientError> {
        let mut out = Loaded::default();
        for key in self.storage.list_all(PREFIX, rid).await? {
            let Some(name) = key
                .strip_prefix(PREFIX)
                .and_then(|k| k.strip_suffix(".json"))
            else {
                out.skipped.push(format!("{key}: not a manifest name"));
                continue;
            };
            if let Some(e) = dataset_name_error(name) {
                out.skipped.push(format!("{key}: {e}"));
                continue;
            }
            let Ok(okey) = ObjectKey::parse(key.clone()) else {
                out.skipped.push(format!("{key}: invalid key"));
                continue;
            };
            let bytes = match self.storage.get(&okey, rid).await {
                Ok(b) => b,
                // Deleted between the listing and the read.
                Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => continue,
                Err(e) => return Err(e),
            };
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.name == name => match invalid(&m) {
                    // Written around catalogd (the public storage routes refuse it now, but
                    // state from before may hold it): never serve it.
                    Some(e) => out.skipped.push(format!("{key}: {e}")),
                    None => out.manifests.push(m),
                },
                Ok(m) => out
                    .skipped
                    .push(format!("{key}: holds the manifest of '{}'", m.name)),
                Err(e) => out.skipped.push(format!("{key}: corrupt manifest: {e}")),
            }
        }
        Ok(out)
    }
}

/// What catalogd would have refused in a manifest read from storage.
fn invalid(m: &Manifest) -> Option<String> {
    let column = m
        .schema
        .iter()
        .enumerate()
        .find_map(|(i, c)| column_type_error(&c.ty).map(|e| format!("schema[{i}].{e}")));
    column.or_else(|| {
        m.objects.iter().enumerate().find_map(|(i, o)| {
            ObjectKey::parse(o.key.clone())
                .err()
                .map(|e| e.to_string())
                .or_else(|| data_key_error(&m.name, &o.key))
                .map(|e| format!("objects[{i}].key {e}"))
        })
    })
}
