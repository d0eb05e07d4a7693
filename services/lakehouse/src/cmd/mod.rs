//! The commands, one module per family.

pub mod data;
pub mod health;
pub mod jobs;
pub mod offline;
pub mod sql;
pub mod storage;
pub mod validate;
pub mod vectors;
