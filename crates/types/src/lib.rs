//! Wire types and validated identifiers shared by every Lakehouse crate.
//!
//! Layout: [`key`] holds [`ObjectKey`], the only way a storage key enters the system;
//! [`storage`] the storaged request/response bodies; [`service`] health and error bodies.
//! Nothing here knows about HTTP or async runtimes.

pub mod key;
pub mod service;
pub mod storage;

pub use key::{KeyError, ObjectKey};
pub use service::{ErrorBody, ErrorDetail, HealthResponse, ReadyResponse};
pub use storage::{ListResponse, ObjectInfo, PutResponse};
