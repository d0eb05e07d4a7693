//! ingestd's own metrics: ingests by outcome, bytes and rows taken in, and how long each phase
//! took (receive: the upload streamed to disk while hashed and scanned; convert: CSV to
//! Parquet in DuckDB; store: the object uploaded and the commit registered).

use std::sync::Arc;
use std::time::Duration;

use lakehouse_common::metric_family::{CounterFamily, HistogramFamily};
use lakehouse_common::metrics::Metrics;

/// The figures, shared by every ingest.
#[derive(Debug, Clone)]
pub struct Figures {
    outcomes: Arc<CounterFamily>,
    bytes: Arc<CounterFamily>,
    rows: Arc<CounterFamily>,
    phases: Arc<HistogramFamily>,
}

impl Figures {
    /// Registers the families with `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            outcomes: CounterFamily::register(
                metrics,
                "lakehouse_ingestd_ingests_total",
                "Ingests by outcome: ingested, existing (the bytes were already held), or the error code.",
                &["outcome"],
            ),
            bytes: CounterFamily::register(
                metrics,
                "lakehouse_ingestd_bytes_total",
                "Bytes taken in: csv (received) and parquet (written).",
                &["kind"],
            ),
            rows: CounterFamily::register(
                metrics,
                "lakehouse_ingestd_rows_total",
                "Rows of ingests that wrote a new object.",
                &[],
            ),
            phases: HistogramFamily::register(
                metrics,
                "lakehouse_ingestd_phase_seconds",
                "Time spent in each phase of an ingest: receive, convert, store.",
                &["phase"],
            ),
        }
    }

    /// One finished ingest: `outcome` is `ingested`, `existing` or an error code.
    pub fn outcome(&self, outcome: &str) {
        self.outcomes.inc(&[outcome]);
    }

    /// One phase's duration.
    pub fn phase(&self, phase: &str, d: Duration) {
        self.phases.observe(&[phase], d);
    }

    /// CSV bytes received.
    pub fn received(&self, bytes: u64) {
        self.bytes.add(&["csv"], bytes);
    }

    /// A new object of `rows` rows and `bytes` bytes of Parquet.
    pub fn written(&self, rows: u64, bytes: u64) {
        self.rows.add(&[], rows);
        self.bytes.add(&["parquet"], bytes);
    }
}
