//! materializer (batch job): raw LLM run logs (JSON lines under `raw/<kind>/`, or a local
//! directory) become `evidence_record.v1` rows in the day-partitioned `evidence` dataset,
//! optionally embedded into a vector index; idempotent, with a receipt per run.
//!
//! Layout: [`transforms`] holds one module per record kind; [`normalize`] does what every
//! kind shares; [`canonical`] makes content ids; [`record`] is the row and its Arrow form;
//! [`inputs`] finds and reads raw files; [`known`] loads the ids already materialized;
//! [`stage`] turns lines into staged Parquet; [`indexer`] embeds and upserts; [`receipt`]
//! is the run's account; [`run`] puts the steps in order; [`sft`] exports training data
//! behind [`sft_firewall`].

pub mod canonical;
pub mod figures;
pub mod indexer;
pub mod inputs;
pub mod known;
pub mod normalize;
pub mod receipt;
pub mod record;
pub mod run;
pub mod sft;
pub mod sft_firewall;
pub mod stage;
pub mod transforms;
