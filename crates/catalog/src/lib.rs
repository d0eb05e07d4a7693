//! The catalog's rules, apart from any transport: every change to a dataset is a commit with
//! the next catalog version; each commit leaves an immutable snapshot (objects, schema, rows,
//! parent); any retained version can be read back or rolled back to; retention drops old
//! snapshots and garbage collection deletes the objects no retained snapshot references.
//!
//! Layout: [`store`] is what the catalog needs of object storage and where its records live;
//! [`record`] the records themselves; `lineage` one dataset's history in memory,
//! `index_lineage` one vector index's commits; `state` the
//! whole catalog at one version; [`catalog`] loading and reads; `writes` register, append,
//! delete and rollback; `gc` retention and collection; [`lease`] which of several instances commits; [`iceberg`] each dataset as an Iceberg table and
//! `tables` writing it; [`mem`] a store in memory for tests.

pub mod catalog;
mod error;
mod gc;
pub mod iceberg;
mod index_lineage;
mod indexes;
pub mod lease;
mod legacy;
mod lineage;
pub mod mem;
pub mod record;
mod rules;
mod state;
pub mod store;
mod tables;
mod time;
mod writes;

pub use catalog::{Catalog, Settings};
pub use error::CatalogError;
pub use lease::{LeaseSettings, Role};
pub use store::{Listed, ObjectStore, Page, StoreError};
pub use tables::IcebergTable;
pub use time::parse_ms;
pub use writes::Outcome;

#[cfg(test)]
mod tests;
