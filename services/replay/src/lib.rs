//! replay (batch job): for each task, retrieve evidence from a vector index, bundle it with
//! the task within a token budget, ask a chat model through the gateway, validate the
//! answer, and log a `replay_run.v1` row — queryable with SQL as `replay_runs`, and readable
//! back by the materializer as `raw/replay_run/` evidence.
//!
//! Layout: [`task`] parses tasks; [`retrieve`] embeds, searches and fetches evidence;
//! [`bundle`] builds the prompt within the budget; `lakehouse_validate` checks answers; [`row`] is
//! the logged row; [`run`] puts the steps in order.

pub mod bundle;
pub mod drift;
pub mod drift_report;
pub mod figures;
pub mod playbook;
pub mod retrieve;
pub mod row;
pub mod run;
pub mod task;
