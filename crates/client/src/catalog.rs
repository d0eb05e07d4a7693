//! Typed client for catalogd's routes (`/catalog/...`).

use lakehouse_types::{
    AppendRequest, AsOf, CatalogVersion, CommitLog, GcReport, History, IndexCommitInfo,
    IndexCommitRequest, Manifest, ManifestList, RegisterRequest, RegisterResponse, RollbackRequest,
};
use reqwest::{Method, StatusCode};

use crate::{ClientError, ServiceClient};

/// Client for catalogd.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    inner: ServiceClient,
}

impl CatalogClient {
    /// Wraps a base client (catalogd's URL, or the gateway's URL + `/v1`).
    pub fn new(inner: ServiceClient) -> Self {
        Self { inner }
    }

    /// The underlying client.
    pub fn service(&self) -> &ServiceClient {
        &self.inner
    }

    /// `POST /catalog/register`.
    pub async fn register(
        &self,
        body: &RegisterRequest,
        rid: &str,
    ) -> Result<RegisterResponse, ClientError> {
        let req = self
            .inner
            .request(Method::POST, "/catalog/register", rid)
            .json(body);
        self.inner.send_json(req).await
    }

    /// `POST /catalog/append`.
    pub async fn append(
        &self,
        body: &AppendRequest,
        rid: &str,
    ) -> Result<RegisterResponse, ClientError> {
        let req = self
            .inner
            .request(Method::POST, "/catalog/append", rid)
            .json(body);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/manifest/{name}`; `None` when there is no such dataset.
    pub async fn manifest(&self, name: &str, rid: &str) -> Result<Option<Manifest>, ClientError> {
        let req = self.inner.request(Method::GET, &manifest_path(name), rid);
        match self.inner.send_json(req).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /catalog/manifest/{name}`.
    pub async fn delete(&self, name: &str, rid: &str) -> Result<(), ClientError> {
        let req = self
            .inner
            .request(Method::DELETE, &manifest_path(name), rid);
        self.inner.send(req).await?;
        Ok(())
    }

    /// `GET /catalog/list`.
    pub async fn list(&self, rid: &str) -> Result<ManifestList, ClientError> {
        let req = self.inner.request(Method::GET, "/catalog/list", rid);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/list?version=…` or `?at=…`: every dataset as of a past point.
    pub async fn list_at(&self, as_of: &AsOf, rid: &str) -> Result<ManifestList, ClientError> {
        let req = self
            .inner
            .request(Method::GET, "/catalog/list", rid)
            .query(&[as_of.query()]);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/manifest/{name}?version=…`: the dataset as of a past point.
    pub async fn manifest_at(
        &self,
        name: &str,
        as_of: &AsOf,
        rid: &str,
    ) -> Result<Manifest, ClientError> {
        let req = self
            .inner
            .request(Method::GET, &manifest_path(name), rid)
            .query(&[as_of.query()]);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/manifest/{name}/history`.
    pub async fn history(&self, name: &str, rid: &str) -> Result<History, ClientError> {
        let path = format!("{}/history", manifest_path(name));
        self.inner
            .send_json(self.inner.request(Method::GET, &path, rid))
            .await
    }

    /// `POST /catalog/manifest/{name}/rollback`.
    pub async fn rollback(
        &self,
        name: &str,
        body: &RollbackRequest,
        rid: &str,
    ) -> Result<Manifest, ClientError> {
        let path = format!("{}/rollback", manifest_path(name));
        let req = self.inner.request(Method::POST, &path, rid).json(body);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/log?after=…&limit=…`.
    pub async fn log(&self, after: u64, limit: usize, rid: &str) -> Result<CommitLog, ClientError> {
        let req = self
            .inner
            .request(Method::GET, "/catalog/log", rid)
            .query(&[("after", after.to_string()), ("limit", limit.to_string())]);
        self.inner.send_json(req).await
    }

    /// `POST /catalog/gc`.
    pub async fn gc(&self, rid: &str) -> Result<GcReport, ClientError> {
        let req = self.inner.request(Method::POST, "/catalog/gc", rid);
        self.inner.send_json(req).await
    }

    /// `POST /catalog/index/{name}/commit`.
    pub async fn commit_index(
        &self,
        name: &str,
        body: &IndexCommitRequest,
        rid: &str,
    ) -> Result<IndexCommitInfo, ClientError> {
        let path = format!("{}/commit", index_path(name));
        let req = self.inner.request(Method::POST, &path, rid).json(body);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/index/{name}?version=…`: the index commit current at `as_of`.
    pub async fn index_at(
        &self,
        name: &str,
        as_of: &AsOf,
        rid: &str,
    ) -> Result<IndexCommitInfo, ClientError> {
        let req = self
            .inner
            .request(Method::GET, &index_path(name), rid)
            .query(&[as_of.query()]);
        self.inner.send_json(req).await
    }

    /// `GET /catalog/version`.
    pub async fn version(&self, rid: &str) -> Result<u64, ClientError> {
        let req = self.inner.request(Method::GET, "/catalog/version", rid);
        let v: CatalogVersion = self.inner.send_json(req).await?;
        Ok(v.version)
    }
}

fn manifest_path(name: &str) -> String {
    format!(
        "/catalog/manifest/{}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    )
}

fn index_path(name: &str) -> String {
    format!(
        "/catalog/index/{}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    )
}
