//! Typed client for catalogd's routes (`/catalog/...`).

use lakehouse_types::{
    AppendRequest, CatalogVersion, Manifest, ManifestList, RegisterRequest, RegisterResponse,
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
