//! Typed client for storaged's routes (`/storage/...`), usable against storaged itself or
//! against the gateway with a `/v1` base.

use bytes::Bytes;
use lakehouse_types::{ListResponse, ObjectKey, PutResponse};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;

use crate::{ClientError, ServiceClient};

/// Everything but unreserved characters and `/` is escaped, so a key round-trips exactly.
const KEY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The path of an object route for `key`.
pub fn object_path(key: &ObjectKey) -> String {
    format!(
        "/storage/objects/{}",
        utf8_percent_encode(key.as_str(), KEY_ESCAPE)
    )
}

/// Client for storaged.
#[derive(Debug, Clone)]
pub struct StorageClient {
    inner: ServiceClient,
}

impl StorageClient {
    /// Wraps a base client (storaged's URL, or the gateway's URL + `/v1`).
    pub fn new(inner: ServiceClient) -> Self {
        Self { inner }
    }

    /// The underlying client.
    pub fn service(&self) -> &ServiceClient {
        &self.inner
    }

    /// Stores `body` under `key`.
    pub async fn put(
        &self,
        key: &ObjectKey,
        body: impl Into<reqwest::Body>,
        rid: &str,
    ) -> Result<PutResponse, ClientError> {
        let req = self
            .inner
            .request(Method::PUT, &object_path(key), rid)
            .body(body);
        self.inner.send_json(req).await
    }

    /// Stores `body` under `key` only if `If-None-Match` / `If-Match` (`condition`, a header and
    /// its value) holds; `None` when storaged answers 412 and nothing was written.
    pub async fn put_if(
        &self,
        key: &ObjectKey,
        body: impl Into<reqwest::Body>,
        condition: (reqwest::header::HeaderName, &str),
        rid: &str,
    ) -> Result<Option<PutResponse>, ClientError> {
        let req = self
            .inner
            .request(Method::PUT, &object_path(key), rid)
            .header(condition.0, condition.1)
            .body(body);
        match self.inner.send_json(req).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(reqwest::StatusCode::PRECONDITION_FAILED) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads a whole object and its ETag; `None` when there is no object.
    pub async fn get_tagged(
        &self,
        key: &ObjectKey,
        rid: &str,
    ) -> Result<Option<(Bytes, String)>, ClientError> {
        let res = match self
            .inner
            .send(self.inner.request(Method::GET, &object_path(key), rid))
            .await
        {
            Ok(r) => r,
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let url = res.url().to_string();
        let etag = res
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = res.bytes().await.map_err(|e| ClientError::Unreachable {
            url,
            message: e.to_string(),
        })?;
        Ok(Some((bytes, etag)))
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &ObjectKey, rid: &str) -> Result<Bytes, ClientError> {
        let res = self
            .inner
            .send(self.inner.request(Method::GET, &object_path(key), rid))
            .await?;
        let url = res.url().to_string();
        res.bytes().await.map_err(|e| ClientError::Unreachable {
            url,
            message: e.to_string(),
        })
    }

    /// Streams a whole object into `file` (which the caller creates and later renames); the
    /// bytes written. Nothing is held in memory beyond one chunk.
    pub async fn get_to_file(
        &self,
        key: &ObjectKey,
        file: &mut tokio::fs::File,
        rid: &str,
    ) -> Result<u64, ClientError> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let res = self
            .inner
            .send(self.inner.request(Method::GET, &object_path(key), rid))
            .await?;
        let url = res.url().to_string();
        let mut stream = res.bytes_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| ClientError::Decode {
                    url: url.clone(),
                    message: format!("writing the local copy: {e}"),
                })?;
            n += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| ClientError::Decode {
            url,
            message: format!("writing the local copy: {e}"),
        })?;
        Ok(n)
    }

    /// Whether `key` exists, and its size.
    pub async fn head(&self, key: &ObjectKey, rid: &str) -> Result<Option<u64>, ClientError> {
        match self
            .inner
            .send(self.inner.request(Method::HEAD, &object_path(key), rid))
            .await
        {
            Ok(res) => Ok(res.content_length()),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &ObjectKey, rid: &str) -> Result<(), ClientError> {
        self.inner
            .send(self.inner.request(Method::DELETE, &object_path(key), rid))
            .await?;
        Ok(())
    }

    /// One page of keys under `prefix` after `after`.
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
        rid: &str,
    ) -> Result<ListResponse, ClientError> {
        let mut q: Vec<(&str, String)> = vec![("prefix", prefix.to_owned())];
        if let Some(a) = after {
            q.push(("after", a.to_owned()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        let req = self
            .inner
            .request(Method::GET, "/storage/list", rid)
            .query(&q);
        self.inner.send_json(req).await
    }

    /// Every key under `prefix`, following pages.
    pub async fn list_all(&self, prefix: &str, rid: &str) -> Result<Vec<String>, ClientError> {
        let mut keys = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(prefix, after.as_deref(), None, rid).await?;
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match (page.truncated, page.next_after) {
                (true, Some(n)) => after = Some(n),
                _ => return Ok(keys),
            }
        }
    }
}
