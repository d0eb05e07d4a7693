//! The storage error type: conditions, not HTTP statuses (those are chosen by the server).

use thiserror::Error;

/// Result alias for storage operations.
pub type StorageResult<T> = Result<T, StorageError>;

/// Everything a storage operation can fail with.
#[derive(Debug, Error)]
pub enum StorageError {
    /// No object has this key.
    #[error("object '{0}' not found")]
    NotFound(String),
    /// The requested byte range lies outside the object.
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange {
        /// Size of the object.
        size: u64,
    },
    /// The request is malformed (e.g. an unparseable Range header).
    #[error("{0}")]
    BadRequest(String),
    /// More bytes arrived than allowed.
    #[error("object exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The key cannot be stored because of another object (fs: a file where a directory must be).
    #[error("{0}")]
    Conflict(String),
    /// A conditional write's precondition did not hold; nothing was written.
    #[error("precondition failed")]
    PreconditionFailed {
        /// The object's ETag now; `None` when there is no object.
        current: Option<String>,
    },
    /// The sender's body stream failed before it ended.
    #[error("upload interrupted: {0}")]
    BodyRead(String),
    /// The backend cannot be reached.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend did not answer in time.
    #[error("storage backend timed out: {0}")]
    Timeout(String),
    /// The backend answered with an error we did not expect.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A local I/O failure.
    #[error("storage i/o error: {0}")]
    Io(#[from] std::io::Error),
}
