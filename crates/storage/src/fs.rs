//! The `fs` backend: one file per object under a root directory.
//!
//! A write streams into a temporary file under `<root>/.lakehouse-tmp/`, is fsynced, then
//! renamed over the final path and the parent directory fsynced. Rename is atomic, so a reader
//! sees the old object or the new one, never a torn one, and a crash leaves at worst a stray
//! temporary file (removed at the next start).

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use futures::StreamExt;
use lakehouse_types::ObjectKey;
use lakehouse_types::key::RESERVED_PREFIX;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use crate::{
    BodyStream, ByteRange, GetResult, ListPage, ObjectMeta, ObjectStore, StorageError,
    StorageResult,
};

const WRITE_BUFFER: usize = 1 << 20;
const READ_CHUNK: usize = 256 << 10;

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) the root directory and clears stale temporary files.
    pub fn open(root: impl Into<PathBuf>) -> StorageResult<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let tmp = root.join(RESERVED_PREFIX);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(key.segments());
        p
    }

    async fn write_temp(
        &self,
        tmp: &Path,
        mut body: BodyStream,
        max_bytes: u64,
    ) -> StorageResult<u64> {
        let file = tokio::fs::File::create(tmp).await?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StorageError::BodyRead(e.to_string()))?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(StorageError::TooLarge { limit: max_bytes });
            }
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        out.into_inner().sync_all().await?;
        Ok(size)
    }

    async fn install(&self, tmp: &Path, key: &ObjectKey) -> StorageResult<()> {
        let dest = self.path_of(key);
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        let conflict = || {
            StorageError::Conflict(format!(
                "key '{key}' collides with an existing object or prefix (the fs backend cannot \
                 hold both 'a' and 'a/b')"
            ))
        };
        // A delete of the last object under a prefix prunes its now-empty directories. One
        // that runs inside `create_dir_all` makes it answer AlreadyExists (mkdir saw the
        // directory, which was gone when it checked again); one that runs before our rename
        // makes the rename answer NotFound. The object is not installed yet: make the
        // directory again. Only a file where a directory must be is a conflict.
        let mut attempts = 0;
        loop {
            match tokio::fs::create_dir_all(&parent).await {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::NotADirectory | ErrorKind::AlreadyExists
                    ) =>
                {
                    if attempts >= 8 || self.file_on_path(&parent).await {
                        return Err(conflict());
                    }
                    attempts += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            if tokio::fs::metadata(&dest).await.is_ok_and(|m| m.is_dir()) {
                return Err(conflict());
            }
            match tokio::fs::rename(tmp, &dest).await {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < 8 => attempts += 1,
                Err(e) => {
                    return Err(match e.kind() {
                        ErrorKind::IsADirectory
                        | ErrorKind::NotADirectory
                        | ErrorKind::DirectoryNotEmpty => conflict(),
                        _ => e.into(),
                    });
                }
            }
        }
        // The rename is durable only once the directory entry is.
        tokio::fs::File::open(&parent).await?.sync_all().await?;
        Ok(())
    }

    async fn stat(&self, key: &ObjectKey) -> StorageResult<ObjectMeta> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(m) if m.is_file() => Ok(meta_of(key.clone(), &m)),
            Ok(_) => Err(StorageError::NotFound(key.to_string())),
            Err(e) => Err(not_found_or(e, key)),
        }
    }

    /// Whether a file stands at `dir` or one of its ancestors below the root.
    async fn file_on_path(&self, dir: &Path) -> bool {
        let mut dir = dir.to_path_buf();
        while dir != self.root && dir.starts_with(&self.root) {
            if tokio::fs::symlink_metadata(&dir)
                .await
                .is_ok_and(|m| !m.is_dir())
            {
                return true;
            }
            if !dir.pop() {
                break;
            }
        }
        false
    }

    /// Removes now-empty directories between `dir` and the root, so deleted prefixes vanish.
    async fn prune_empty_dirs(&self, mut dir: PathBuf) {
        while dir != self.root && dir.starts_with(&self.root) {
            if tokio::fs::remove_dir(&dir).await.is_err() {
                break;
            }
            if !dir.pop() {
                break;
            }
        }
    }
}

/// A temporary file removed when dropped: on an error, and also when the upload's future is
/// dropped mid-transfer (a transfer timeout or a client gone). After a successful rename
/// the path names nothing and the removal is a harmless miss.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        // Synchronous on purpose: a drop cannot await, and unlinking is one quick syscall.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn not_found_or(e: std::io::Error, key: &ObjectKey) -> StorageError {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory => {
            StorageError::NotFound(key.to_string())
        }
        _ => e.into(),
    }
}

/// The etag names this version of the file: inode, size and modification time all change
/// when an object is rewritten (a rename installs a new inode). It is not a content hash.
fn meta_of(key: ObjectKey, m: &std::fs::Metadata) -> ObjectMeta {
    let mtime_ns = (m.mtime() as i128) * 1_000_000_000 + i128::from(m.mtime_nsec());
    ObjectMeta {
        key,
        size: m.len(),
        etag: format!("\"{:x}-{:x}-{:x}\"", m.ino(), m.len(), mtime_ns),
        last_modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

#[async_trait]
impl ObjectStore for FsStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: BodyStream,
        max_bytes: u64,
    ) -> StorageResult<ObjectMeta> {
        let tmp = TempFile(
            self.root
                .join(RESERVED_PREFIX)
                .join(uuid::Uuid::new_v4().simple().to_string()),
        );
        self.write_temp(&tmp.0, body, max_bytes).await?;
        self.install(&tmp.0, key).await?;
        self.stat(key).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> StorageResult<GetResult> {
        let mut file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(|e| not_found_or(e, key))?;
        let m = file.metadata().await?;
        if !m.is_file() {
            return Err(StorageError::NotFound(key.to_string()));
        }
        let meta = meta_of(key.clone(), &m);
        let span = range.map(|r| r.resolve(meta.size)).transpose()?;
        let (start, len) = match span {
            Some((a, b)) => (a, b - a + 1),
            None => (0, meta.size),
        };
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await?;
        }
        // Reading from the open handle keeps serving this version even if it is replaced.
        let reader = tokio::io::AsyncReadExt::take(file, len);
        let body =
            ReaderStream::with_capacity(reader, READ_CHUNK).map(|r| r.map_err(StorageError::from));
        Ok(GetResult {
            meta,
            range: span,
            body: Box::pin(body),
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<ObjectMeta> {
        self.stat(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        let path = self.path_of(key);
        if !tokio::fs::metadata(&path)
            .await
            .map_err(|e| not_found_or(e, key))?
            .is_file()
        {
            return Err(StorageError::NotFound(key.to_string()));
        }
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| not_found_or(e, key))?;
        if let Some(parent) = path.parent() {
            self.prune_empty_dirs(parent.to_path_buf()).await;
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<ListPage> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = after.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut walk = Walk {
                prefix: &prefix,
                after: after.as_deref(),
                limit,
                out: Vec::new(),
            };
            walk.dir(&root, "")?;
            let truncated = walk.out.len() > limit;
            walk.out.truncate(limit);
            let next_after = truncated
                .then(|| walk.out.last().map(|o| o.key.to_string()))
                .flatten();
            Ok(ListPage {
                objects: walk.out,
                truncated,
                next_after,
            })
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    async fn check(&self) -> StorageResult<()> {
        let m = tokio::fs::metadata(&self.root).await?;
        if !m.is_dir() {
            return Err(StorageError::Unavailable(format!(
                "{} is not a directory",
                self.root.display()
            )));
        }
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "fs"
    }
}

/// A depth-first walk that yields keys in UTF-8 byte order and prunes subtrees that cannot
/// match the prefix or lie wholly before `after`.
struct Walk<'a> {
    prefix: &'a str,
    after: Option<&'a str>,
    limit: usize,
    out: Vec<ObjectMeta>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, key_prefix: &str) -> std::io::Result<()> {
        let mut entries = Vec::new();
        let read = match std::fs::read_dir(dir) {
            Ok(r) => r,
            // A directory removed by a concurrent delete is simply empty now.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in read {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let ft = entry.file_type()?;
            if key_prefix.is_empty() && name == RESERVED_PREFIX {
                continue;
            }
            if ft.is_dir() {
                // A directory's keys all start with "name/", so it sorts as that string.
                entries.push((format!("{key_prefix}{name}/"), true));
            } else if ft.is_file() {
                entries.push((format!("{key_prefix}{name}"), false));
            }
        }
        entries.sort_unstable();
        for (full, is_dir) in entries {
            if self.out.len() > self.limit {
                break;
            }
            if is_dir {
                let may_match = self.prefix.starts_with(&full) || full.starts_with(self.prefix);
                let all_before = self
                    .after
                    .is_some_and(|a| !a.starts_with(&full) && a > full.as_str());
                if may_match && !all_before {
                    let name = &full[key_prefix.len()..full.len() - 1];
                    self.dir(&dir.join(name), &full)?;
                }
            } else if full.starts_with(self.prefix) && self.after.is_none_or(|a| full.as_str() > a)
            {
                let m = match std::fs::metadata(dir.join(&full[key_prefix.len()..])) {
                    Ok(m) => m,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                // Only keys that pass validation are listed; anything else was not put by us.
                if let Ok(key) = ObjectKey::parse(full) {
                    self.out.push(meta_of(key, &m));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn body(data: &'static [u8]) -> BodyStream {
        Box::pin(futures::stream::iter([Ok(Bytes::from_static(data))]))
    }

    fn key(s: &str) -> ObjectKey {
        ObjectKey::parse(s).unwrap()
    }

    #[tokio::test]
    async fn list_is_in_byte_order_across_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        for k in ["a/b", "a-c", "a0", "b", "a/a/z"] {
            store.put(&key(k), body(b"x"), 10).await.unwrap();
        }
        let page = store.list("", None, 100).await.unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a-c", "a/a/z", "a/b", "a0", "b"]);
        let page = store.list("", Some("a/a/z"), 2).await.unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/b", "a0"]);
        assert!(page.truncated);
    }

    #[tokio::test]
    async fn too_large_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let err = store
            .put(&key("big"), body(b"0123456789"), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { limit: 5 }));
        assert!(store.list("", None, 10).await.unwrap().objects.is_empty());
        let tmp = std::fs::read_dir(dir.path().join(RESERVED_PREFIX))
            .unwrap()
            .count();
        assert_eq!(tmp, 0);
    }

    #[tokio::test]
    async fn an_upload_dropped_mid_transfer_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        // A body that sends one chunk and then never ends, as a stalled client does.
        let stalled: BodyStream = Box::pin(
            futures::stream::iter([Ok(Bytes::from_static(b"partial"))])
                .chain(futures::stream::pending()),
        );
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            store.put(&key("slow/upload"), stalled, 1 << 20),
        )
        .await;
        assert!(cut.is_err(), "the put should still be waiting for its body");
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join(RESERVED_PREFIX))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "temp files left: {tmp:?}");
        assert!(store.list("", None, 10).await.unwrap().objects.is_empty());
    }

    #[test]
    fn stale_temp_files_are_swept_at_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(FsStore::open(dir.path()).unwrap());
        std::fs::write(dir.path().join(RESERVED_PREFIX).join("stale"), b"x").unwrap();
        drop(FsStore::open(dir.path()).unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join(RESERVED_PREFIX))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn delete_prunes_empty_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        store.put(&key("x/y/z"), body(b"1"), 10).await.unwrap();
        store.delete(&key("x/y/z")).await.unwrap();
        assert!(!dir.path().join("x").exists());
        assert!(matches!(
            store.delete(&key("x/y/z")).await,
            Err(StorageError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn an_object_and_a_prefix_of_the_same_name_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        store.put(&key("a"), body(b"1"), 10).await.unwrap();
        store.put(&key("x/y"), body(b"2"), 10).await.unwrap();
        for k in ["a/b", "a/b/c", "x"] {
            assert!(
                matches!(
                    store.put(&key(k), body(b"3"), 10).await,
                    Err(StorageError::Conflict(_))
                ),
                "{k}"
            );
        }
        let page = store.list("", None, 10).await.unwrap();
        let keys: Vec<String> = page.objects.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["a", "x/y"]);
        assert!(
            std::fs::read_dir(dir.path().join(RESERVED_PREFIX))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn puts_survive_deletes_pruning_their_directory() {
        // A writer appends records under one prefix while a cleaner deletes the older ones,
        // so the directory keeps emptying and being pruned under the writer.
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FsStore::open(dir.path()).unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..2000u32 {
                    let k = key(&format!("log.wal/{i:08}"));
                    store
                        .put(&k, body(b"r"), 10)
                        .await
                        .expect("put during pruning");
                    tx.send(i).unwrap();
                }
            })
        };
        let cleaner = {
            let store = store.clone();
            tokio::spawn(async move {
                while let Some(i) = rx.recv().await {
                    store
                        .delete(&key(&format!("log.wal/{i:08}")))
                        .await
                        .unwrap();
                }
            })
        };
        writer.await.unwrap();
        cleaner.await.unwrap();
        assert!(
            store
                .list("log.wal/", None, 10)
                .await
                .unwrap()
                .objects
                .is_empty()
        );
    }
}
