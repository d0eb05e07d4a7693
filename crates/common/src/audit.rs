//! The audit log: one JSON line per mutation (and per refused mutation) with time, service,
//! token name, role, source address, route, target, status and request id, appended to its
//! own file (`[auth] audit_log`), apart from the service's operational log.
//!
//! The service that performs a mutation writes its line (it knows the target, even one named
//! in the body); calls one service makes to another are consequences of an audited call and
//! are not written again. The gateway writes the mutations it refuses itself.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

/// A target named in a request body, set by a handler on its response so the audit line
/// names it (`dataset:sales`, `index:docs`).
#[derive(Debug, Clone)]
pub struct AuditTarget(pub String);

/// One audit line.
#[derive(Debug, Serialize)]
pub struct AuditLine<'a> {
    /// RFC 3339 UTC.
    pub time: String,
    /// The service writing the line.
    pub service: &'a str,
    /// Token name, never the token.
    pub token: &'a str,
    /// The token's role.
    pub role: &'a str,
    /// The caller's address (behind the gateway: the address the gateway saw).
    pub source: String,
    /// HTTP method.
    pub method: &'a str,
    /// The path as received.
    pub route: &'a str,
    /// What was changed, when known.
    pub target: Option<String>,
    /// The answer's status.
    pub status: u16,
    /// `ok`, `denied` or `failed`.
    pub outcome: &'a str,
    /// The request id.
    pub request_id: String,
}

/// An append-only JSON-lines file, opened on first use.
#[derive(Debug, Default)]
pub struct AuditLog {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

impl AuditLog {
    /// A log at `path`; `None` writes nothing.
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            file: Mutex::new(None),
        }
    }

    /// Appends one line. Each line is one `write` on an `O_APPEND` file, so lines of several
    /// services sharing the file never interleave. A failure is logged, never an answer.
    pub fn record(&self, line: &AuditLine<'_>) {
        let Some(path) = &self.path else {
            return;
        };
        let Ok(mut text) = serde_json::to_vec(line) else {
            return;
        };
        text.push(b'\n');
        let mut slot = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(f) => *slot = Some(f),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot open the audit log");
                    return;
                }
            }
        }
        if let Some(f) = slot.as_mut()
            && let Err(e) = f.write_all(&text)
        {
            tracing::error!(path = %path.display(), error = %e, "cannot write the audit log");
            *slot = None;
        }
    }
}

/// Now, RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
