//! `lakehouse`, the operator's command line.
//!
//! Layout: [`remote`] is the connection to a fleet's gateway (URL, token, errors and exit
//! codes); [`cmd`] holds one module per command family that speaks to it; [`output`] and
//! [`progress`] are how answers and transfers look on a terminal and in a pipe. [`objects`]
//! and [`backup`] work on the storage itself, with no HTTP: backup, verify and restore.

pub mod backup;
pub mod cmd;
pub mod objects;
pub mod output;
pub mod progress;
pub mod remote;
