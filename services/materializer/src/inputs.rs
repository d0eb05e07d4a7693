//! Where raw logs come from — objects under a storage prefix (`raw/` by default) or files
//! under a local directory — and reading them line by line with bounded memory.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use lakehouse_types::ObjectKey;
use sha2::{Digest, Sha256};

use crate::transforms;

/// Longest line accepted; a longer one is rejected and skipped without being held.
pub const MAX_LINE_BYTES: usize = 32 << 20;

/// One raw file.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it is.
    pub location: Location,
    /// The name rows cite as `source_key`: the storage key, or the local path.
    pub name: String,
    /// Its record kind, from the first path segment naming one.
    pub kind: Option<&'static str>,
}

/// A storage object or a local file.
#[derive(Debug, Clone)]
pub enum Location {
    /// In storage.
    Object(ObjectKey),
    /// On this machine.
    Local(PathBuf),
}

/// Whether a file name looks like JSON lines.
pub fn is_jsonl(name: &str) -> bool {
    name.ends_with(".jsonl") || name.ends_with(".ndjson")
}

/// The kind named by the first path segment that is a registered kind (a file name counts
/// without its extension: `openai_chat.jsonl`).
pub fn kind_of<'a>(segments: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    segments.into_iter().find_map(|s| {
        let s = s
            .strip_suffix(".jsonl")
            .or_else(|| s.strip_suffix(".ndjson"))
            .unwrap_or(s);
        transforms::kinds().into_iter().find(|k| *k == s)
    })
}

/// Every JSON-lines file under local `dir` (or `dir` itself when it is a file), sorted.
pub fn local(dir: &Path) -> std::io::Result<Vec<Input>> {
    let mut files = Vec::new();
    if dir.is_file() {
        files.push(dir.to_path_buf());
    } else {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d)? {
                let p = entry?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_str().is_some_and(is_jsonl) {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    let base_name = dir.file_name().and_then(|n| n.to_str());
    Ok(files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            let segs: Vec<String> = base_name
                .into_iter()
                .map(str::to_owned)
                .chain(rel.iter().filter_map(|s| s.to_str().map(str::to_owned)))
                .collect();
            let kind = kind_of(segs.iter().map(String::as_str).rev());
            Input {
                name: p.display().to_string(),
                location: Location::Local(p),
                kind,
            }
        })
        .collect())
}

/// Inputs for storage keys (already listed).
pub fn objects(keys: Vec<String>) -> Vec<Input> {
    keys.into_iter()
        .filter(|k| is_jsonl(k))
        .filter_map(|k| {
            let key = ObjectKey::parse(k.clone()).ok()?;
            Some(Input {
                kind: kind_of(k.split('/')),
                name: k,
                location: Location::Object(key),
            })
        })
        .collect()
}

/// What reading one file saw.
#[derive(Debug, Default, Clone)]
pub struct FileStats {
    /// Hex sha256 of every byte.
    pub sha256: String,
    /// Bytes.
    pub bytes: u64,
    /// Lines, blank ones included.
    pub lines: u64,
}

/// Calls `f(line_number, line)` for every line of `r` (1-based; without the newline; `None`
/// for a line over [`MAX_LINE_BYTES`]), hashing every byte on the way.
pub fn each_line(
    mut r: impl BufRead,
    mut f: impl FnMut(u64, Option<&[u8]>),
) -> std::io::Result<FileStats> {
    let mut hash = Sha256::new();
    let mut stats = FileStats::default();
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            if !line.is_empty() || too_long {
                stats.lines += 1;
                f(stats.lines, (!too_long).then_some(line.as_slice()));
            }
            break;
        }
        let (chunk, done) = match memchr(buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        hash.update(chunk);
        stats.bytes += chunk.len() as u64;
        if !too_long {
            let body = if done {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if line.len() + body.len() > MAX_LINE_BYTES {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(body);
            }
        }
        let n = chunk.len();
        r.consume(n);
        if done {
            stats.lines += 1;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            f(stats.lines, (!too_long).then_some(line.as_slice()));
            line.clear();
            too_long = false;
        }
    }
    stats.sha256 = hex::encode(hash.finalize());
    Ok(stats)
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Reads all of `r` for its hash only (files whose kind is unknown are still receipted).
pub fn hash_only(mut r: impl Read) -> std::io::Result<FileStats> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut stats = FileStats::default();
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        stats.bytes += n as u64;
        stats.lines += buf[..n].iter().filter(|&&c| c == b'\n').count() as u64;
    }
    stats.sha256 = hex::encode(hash.finalize());
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_hashed_and_capped() {
        let text = b"{\"a\":1}\r\n\n{\"b\":2}";
        let mut got = Vec::new();
        let stats = each_line(&text[..], |n, l| got.push((n, l.map(<[u8]>::to_vec)))).unwrap();
        assert_eq!(
            got,
            vec![
                (1, Some(b"{\"a\":1}".to_vec())),
                (2, Some(Vec::new())),
                (3, Some(b"{\"b\":2}".to_vec()))
            ]
        );
        assert_eq!(stats.lines, 3);
        assert_eq!(stats.bytes, text.len() as u64);
        assert_eq!(stats.sha256, hex::encode(Sha256::digest(text)));

        let mut long = vec![b'x'; MAX_LINE_BYTES + 10];
        long.extend_from_slice(b"\nok\n");
        let mut got = Vec::new();
        // A small buffer makes the long line arrive in many pieces.
        let r = std::io::BufReader::with_capacity(4096, &long[..]);
        each_line(r, |n, l| got.push((n, l.map(<[u8]>::to_vec)))).unwrap();
        assert_eq!(got, vec![(1, None), (2, Some(b"ok".to_vec()))]);
    }

    #[test]
    fn kinds_come_from_the_path() {
        assert_eq!(
            kind_of("raw/openai_chat/2026/a.jsonl".split('/')),
            Some("openai_chat")
        );
        assert_eq!(kind_of("raw/unknown/a.jsonl".split('/')), None);
        let ins = objects(vec![
            "raw/tool_call/a.jsonl".into(),
            "raw/tool_call/readme.txt".into(),
        ]);
        assert_eq!(ins.len(), 1);
        assert_eq!(ins[0].kind, Some("tool_call"));
    }

    #[test]
    fn local_directories_are_walked_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("validation");
        std::fs::create_dir_all(k.join("sub")).unwrap();
        std::fs::write(k.join("b.jsonl"), "{}\n").unwrap();
        std::fs::write(k.join("sub/a.ndjson"), "{}\n").unwrap();
        std::fs::write(k.join("notes.md"), "x").unwrap();
        std::fs::write(dir.path().join("stray.jsonl"), "{}\n").unwrap();
        let all = local(dir.path()).unwrap();
        let kinds: Vec<_> = all.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, vec![None, Some("validation"), Some("validation")]);
        // A directory named after a kind gives its files that kind.
        let inner = local(&k).unwrap();
        assert!(inner.iter().all(|i| i.kind == Some("validation")));
    }
}
