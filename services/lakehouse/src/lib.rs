//! `lakehouse`, the operator's command line: backup and restore of a fleet's storage.
//!
//! Layout: [`objects`] copies and hashes objects and reads the catalog straight from a store;
//! [`backup`] what a backup holds, how it is made incremental, verified and restored.
//! Nothing here speaks HTTP: the commands work on the storage itself.

pub mod backup;
pub mod objects;
