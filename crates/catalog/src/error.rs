//! What can go wrong in the catalog, in its own terms; services map these to status codes.

/// A refused or failed catalog operation.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request is malformed or breaks a rule (`code` says which).
    #[error("{message}")]
    Invalid {
        /// Machine-readable tag.
        code: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// No such dataset (now, or at the version asked for).
    #[error("{0}")]
    NotFound(String),
    /// An index with no commit at or before the version asked for (it may still exist in
    /// vectord, written but never committed).
    #[error("{0}")]
    NotCommitted(String),
    /// A catalog version that never existed.
    #[error("catalog version {version} does not exist; the current version is {current}")]
    VersionNotFound {
        /// Asked for.
        version: u64,
        /// The newest.
        current: u64,
    },
    /// The state asked for existed but retention has dropped it.
    #[error("{0}")]
    Expired(String),
    /// The request contradicts the current state (`code` says how).
    #[error("{message}")]
    Conflict {
        /// Machine-readable tag.
        code: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// An `expected_version` precondition did not hold.
    #[error("dataset '{name}' is at version {current}, not {expected}; read it again and retry")]
    VersionConflict {
        /// The dataset.
        name: String,
        /// What the request expected.
        expected: u64,
        /// What it is (0: it does not exist).
        current: u64,
    },
    /// Another instance holds the catalog lease (or none does yet): ask the leader.
    #[error("{0}")]
    NotLeader(String),
    /// Still loading from storage.
    #[error("{0}")]
    NotReady(String),
    /// Object storage failed; nothing was committed.
    #[error("storage: {0}")]
    Storage(String),
    /// A bug or corrupt state on our side.
    #[error("{0}")]
    Internal(String),
}

impl CatalogError {
    /// A 400-class refusal with a code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A conflict with a code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
