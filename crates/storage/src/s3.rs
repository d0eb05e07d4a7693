//! The `s3` backend: any S3-compatible store (AWS S3, MinIO, Garage) through the AWS SDK.
//!
//! Small objects go up in one PutObject; past `multipart_threshold` bytes the upload switches
//! to multipart, with one part in flight while the next is read, so memory per upload stays at
//! two parts whatever the object's size.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as AwsByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use lakehouse_types::ObjectKey;
use tokio::task::JoinHandle;

use crate::{
    BodyStream, ByteRange, GetResult, ListPage, ObjectMeta, ObjectStore, StorageError,
    StorageResult,
};

/// Where the bucket is and how to talk to it. Credentials come from the standard AWS
/// environment variables, never from the config file.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:3900`; `None` for AWS's own endpoints.
    pub endpoint: Option<String>,
    /// Region name (`garage` for Garage, `us-east-1` for MinIO by default).
    pub region: String,
    /// Bucket holding every object.
    pub bucket: String,
    /// Prepended to every key (empty, or ending in `/`), so fleets can share a bucket.
    pub prefix: String,
    /// Path-style addressing (`host/bucket/key`), needed by most self-hosted stores.
    pub path_style: bool,
    /// Uploads larger than this use multipart; it is also the part size.
    pub part_size: usize,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, when temporary credentials are used.
    pub session_token: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one attempt of one request.
    pub attempt_timeout: Duration,
}

/// Smallest part S3 accepts (except the last one).
pub const MIN_PART_SIZE: usize = 5 << 20;

/// An S3 bucket as an object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: usize,
}

impl S3Store {
    /// Builds a client; no request is made until the first operation.
    pub fn new(s: &S3Settings) -> Self {
        let creds = Credentials::new(
            &s.access_key_id,
            &s.secret_access_key,
            s.session_token.clone(),
            None,
            "environment",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(s.connect_timeout)
            .operation_attempt_timeout(s.attempt_timeout)
            .build();
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s.region.clone()))
            .credentials_provider(creds)
            .force_path_style(s.path_style)
            .timeout_config(timeouts)
            // Trailing CRC checksums (the SDK's newer default) are not understood by every
            // S3-compatible store; plain SigV4 payload hashes are.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(ep) = &s.endpoint {
            b = b.endpoint_url(ep);
        }
        Self {
            client: Client::from_conf(b.build()),
            bucket: s.bucket.clone(),
            prefix: s.prefix.clone(),
            part_size: s.part_size.max(MIN_PART_SIZE),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key in the bucket of object `key`.
    fn at(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    async fn put_multipart(
        &self,
        key: &ObjectKey,
        first: Bytes,
        body: &mut BodyStream,
        max_bytes: u64,
        size: &mut u64,
    ) -> StorageResult<String> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.at(key))
            .send()
            .await
            .map_err(|e| map_sdk(&e, key.as_str()))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                StorageError::Backend("CreateMultipartUpload returned no upload id".into())
            })?
            .to_owned();
        // Dropped mid-upload (a transfer timeout, a client gone): abort in the background so
        // the store does not keep the parts of an upload nobody will complete.
        let mut guard = AbortOnDrop {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: self.at(key),
            upload_id: Some(upload_id.clone()),
        };
        let result = async {
            let mut parts = Vec::new();
            let mut inflight: Option<JoinHandle<StorageResult<CompletedPart>>> = None;
            let mut next = Some(first);
            let mut number = 1;
            while let Some(part) = next.take() {
                let upload = self.spawn_part(key, &upload_id, number, part);
                if let Some(prev) = inflight.replace(upload) {
                    parts.push(join_part(prev).await?);
                }
                number += 1;
                let (buf, _) = fill(body, self.part_size, max_bytes, size).await?;
                if !buf.is_empty() {
                    next = Some(buf);
                }
            }
            if let Some(last) = inflight {
                parts.push(join_part(last).await?);
            }
            let done = self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(self.at(key))
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| map_sdk(&e, key.as_str()))?;
            Ok(done.e_tag().unwrap_or_default().to_owned())
        }
        .await;
        guard.upload_id = None;
        if result.is_err() {
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(self.at(key))
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(e) = abort {
                tracing::warn!(key = %key, error = %DisplayErrorContext(&e), "abort of multipart upload failed");
            }
        }
        result
    }

    fn spawn_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        number: i32,
        data: Bytes,
    ) -> JoinHandle<StorageResult<CompletedPart>> {
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.at(key))
            .upload_id(upload_id)
            .part_number(number)
            .content_length(data.len() as i64)
            .body(AwsByteStream::from(data));
        let key = key.to_string();
        tokio::spawn(async move {
            let out = req.send().await.map_err(|e| map_sdk(&e, &key))?;
            Ok(CompletedPart::builder()
                .set_e_tag(out.e_tag().map(str::to_owned))
                .part_number(number)
                .build())
        })
    }
}

async fn join_part(h: JoinHandle<StorageResult<CompletedPart>>) -> StorageResult<CompletedPart> {
    h.await
        .map_err(|e| StorageError::Backend(format!("part upload task failed: {e}")))?
}

/// Reads from `body` until `target` bytes are buffered or it ends; returns the buffer and
/// whether the stream ended.
async fn fill(
    body: &mut BodyStream,
    target: usize,
    max_bytes: u64,
    size: &mut u64,
) -> StorageResult<(Bytes, bool)> {
    let mut buf = BytesMut::new();
    while buf.len() < target {
        match body.next().await {
            None => return Ok((buf.freeze(), true)),
            Some(Err(e)) => return Err(StorageError::BodyRead(e.to_string())),
            Some(Ok(chunk)) => {
                *size += chunk.len() as u64;
                if *size > max_bytes {
                    return Err(StorageError::TooLarge { limit: max_bytes });
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    Ok((buf.freeze(), false))
}

/// Maps an SDK failure to a storage condition. `key` names the object for `NotFound`.
fn map_sdk<E>(e: &SdkError<E, HttpResponse>, key: &str) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(e).to_string();
    match e {
        SdkError::TimeoutError(_) => StorageError::Timeout(detail),
        SdkError::DispatchFailure(d) if d.is_timeout() => StorageError::Timeout(detail),
        SdkError::DispatchFailure(_) => StorageError::Unavailable(detail),
        SdkError::ServiceError(s) => match s.raw().status().as_u16() {
            404 => StorageError::NotFound(key.to_owned()),
            503 => StorageError::Unavailable(detail),
            _ => StorageError::Backend(format!(
                "{}: {}",
                s.err().code().unwrap_or("error"),
                s.err().message().unwrap_or("no message")
            )),
        },
        SdkError::ResponseError(_) => StorageError::Backend(detail),
        _ => StorageError::Backend(detail),
    }
}

fn to_system_time(t: Option<&aws_smithy_types::DateTime>) -> SystemTime {
    t.and_then(|d| SystemTime::try_from(*d).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Parses `bytes first-last/size` from a Content-Range header.
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?, size.parse().ok()?))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        mut body: BodyStream,
        max_bytes: u64,
    ) -> StorageResult<ObjectMeta> {
        let mut size = 0;
        let (first, ended) = fill(&mut body, self.part_size, max_bytes, &mut size).await?;
        let etag = if ended {
            let out = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(self.at(key))
                .content_length(first.len() as i64)
                .body(AwsByteStream::from(first))
                .send()
                .await
                .map_err(|e| map_sdk(&e, key.as_str()))?;
            out.e_tag().unwrap_or_default().to_owned()
        } else {
            self.put_multipart(key, first, &mut body, max_bytes, &mut size)
                .await?
        };
        // The write's answer has size and etag; the store's own timestamp is within the
        // round trip of now, and asking for it would cost a second request per upload.
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            etag,
            last_modified: SystemTime::now(),
        })
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> StorageResult<GetResult> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.at(key));
        if let Some(r) = range {
            req = req.range(r.to_header());
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(SdkError::ServiceError(s)) if s.raw().status().as_u16() == 416 => {
                let size = self.head(key).await?.size;
                return Err(StorageError::InvalidRange { size });
            }
            Err(e) => return Err(map_sdk(&e, key.as_str())),
        };
        let length = out.content_length().unwrap_or_default().max(0) as u64;
        let (span, size) = match (range, out.content_range().and_then(parse_content_range)) {
            (Some(_), Some((a, b, total))) => (Some((a, b)), total),
            _ => (None, length),
        };
        let meta = ObjectMeta {
            key: key.clone(),
            size,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: to_system_time(out.last_modified()),
        };
        let stream = futures::stream::unfold(out.body, |mut b| async move {
            b.next()
                .await
                .map(|r| (r.map_err(|e| StorageError::Backend(e.to_string())), b))
        });
        Ok(GetResult {
            meta,
            range: span,
            body: Box::pin(stream),
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.at(key))
            .send()
            .await
            .map_err(|e| map_sdk(&e, key.as_str()))?;
        Ok(ObjectMeta {
            key: key.clone(),
            size: out.content_length().unwrap_or_default().max(0) as u64,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: to_system_time(out.last_modified()),
        })
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        // S3 deletes are idempotent; our contract answers 404 for a missing key.
        self.head(key).await?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.at(key))
            .send()
            .await
            .map_err(|e| map_sdk(&e, key.as_str()))?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<ListPage> {
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .max_keys(limit.clamp(1, 1000) as i32);
        let full = format!("{}{prefix}", self.prefix);
        if !full.is_empty() {
            req = req.prefix(full.as_str());
        }
        // A start before the listed prefix means nothing (and some stores, Garage among
        // them, then list nothing at all): only a start inside it is sent.
        if let Some(start) = after
            .map(|a| format!("{}{a}", self.prefix))
            .filter(|s| *s > full)
        {
            req = req.start_after(start);
        }
        let out = req.send().await.map_err(|e| map_sdk(&e, prefix))?;
        let mut objects = Vec::new();
        for o in out.contents() {
            // Objects written by other tools may have keys we would refuse; skip them.
            let Some(key) = o
                .key()
                .and_then(|k| k.strip_prefix(self.prefix.as_str()))
                .and_then(|k| ObjectKey::parse(k).ok())
            else {
                continue;
            };
            objects.push(ObjectMeta {
                key,
                size: o.size().unwrap_or_default().max(0) as u64,
                etag: o.e_tag().unwrap_or_default().to_owned(),
                last_modified: to_system_time(o.last_modified()),
            });
        }
        let truncated = out.is_truncated().unwrap_or(false);
        let next_after = truncated
            .then(|| {
                out.contents()
                    .last()
                    .and_then(|o| o.key())
                    .map(|k| k.strip_prefix(self.prefix.as_str()).unwrap_or(k).to_owned())
            })
            .flatten();
        Ok(ListPage {
            objects,
            truncated,
            next_after,
        })
    }

    async fn check(&self) -> StorageResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| map_sdk(&e, &self.bucket))?;
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "s3"
    }
}

/// Aborts a multipart upload whose future was dropped before it finished.
struct AbortOnDrop {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key.clone());
        rt.spawn(async move {
            let r = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(e) = r {
                tracing::warn!(key = %key, error = %DisplayErrorContext(&e), "abort of a dropped multipart upload failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(parse_content_range("bytes 0-9/100"), Some((0, 9, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
    }
}
