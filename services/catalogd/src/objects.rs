//! The catalog's object store: storaged, through its HTTP client.

use lakehouse_catalog::{Listed, ObjectStore, Page, StoreError};
use lakehouse_client::{ClientError, StorageClient};
use lakehouse_common::request_id;
use lakehouse_types::ObjectKey;
use reqwest::StatusCode;
use reqwest::header::{IF_MATCH, IF_NONE_MATCH};

/// Listing page size.
const PAGE: usize = 1_000;

/// storaged as the catalog's store.
#[derive(Debug, Clone)]
pub struct StorageObjects(pub StorageClient);

fn rid() -> String {
    request_id::current().unwrap_or_else(request_id::generate)
}

fn key(k: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(k.to_owned()).map_err(|e| StoreError(format!("{k}: {e}")))
}

fn failed(e: &ClientError) -> StoreError {
    StoreError(e.to_string())
}

impl ObjectStore for StorageObjects {
    async fn put(&self, k: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.0
            .put(&key(k)?, body, &rid())
            .await
            .map(drop)
            .map_err(|e| failed(&e))
    }

    async fn put_new(&self, k: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        self.0
            .put_if(&key(k)?, body, (IF_NONE_MATCH, "*"), &rid())
            .await
            .map(|r| r.is_some())
            .map_err(|e| failed(&e))
    }

    async fn put_over(
        &self,
        k: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, StoreError> {
        self.0
            .put_if(&key(k)?, body, (IF_MATCH, etag), &rid())
            .await
            .map(|r| r.map(|p| p.etag))
            .map_err(|e| failed(&e))
    }

    async fn get_tagged(&self, k: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.0
            .get_tagged(&key(k)?, &rid())
            .await
            .map(|r| r.map(|(b, etag)| (b.to_vec(), etag)))
            .map_err(|e| failed(&e))
    }

    async fn get(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.0.get(&key(k)?, &rid()).await {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn delete(&self, k: &str) -> Result<(), StoreError> {
        match self.0.delete(&key(k)?, &rid()).await {
            Err(e) if e.status() != Some(StatusCode::NOT_FOUND) => Err(failed(&e)),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Page, StoreError> {
        let page = self
            .0
            .list(prefix, after, Some(PAGE), &rid())
            .await
            .map_err(|e| failed(&e))?;
        Ok(Page {
            next_after: if page.truncated {
                page.next_after
            } else {
                None
            },
            objects: page
                .objects
                .into_iter()
                .map(|o| Listed {
                    modified_ms: lakehouse_catalog::parse_ms(&o.last_modified),
                    key: o.key,
                    size: o.size,
                })
                .collect(),
        })
    }
}
