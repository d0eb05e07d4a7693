//! A run's figures as Prometheus series (`[materializer] metrics_textfile`): when it ran,
//! whether it succeeded, lines by kind and outcome, rows written, and phase timings.

use lakehouse_jobs::textfile::{Figures, now_seconds};

use crate::receipt::Receipt;

/// The series of one receipt.
pub fn of(r: &Receipt) -> Figures {
    let mut f = Figures::default();
    f.metric(
        "lakehouse_materializer_last_run_timestamp_seconds",
        "gauge",
        "When the last run finished (Unix time).",
        &[(String::new(), now_seconds())],
    );
    f.metric(
        "lakehouse_materializer_last_run_success",
        "gauge",
        "1 when the last run succeeded, 0 when it failed.",
        &[(String::new(), if r.status == "failed" { 0.0 } else { 1.0 })],
    );
    let mut lines = Vec::new();
    for (kind, k) in &r.kinds {
        lines.push((
            format!("kind=\"{kind}\",outcome=\"materialized\""),
            k.materialized as f64,
        ));
        lines.push((
            format!("kind=\"{kind}\",outcome=\"duplicate\""),
            k.duplicate as f64,
        ));
        let rejected: u64 = k.rejected.values().sum();
        lines.push((
            format!("kind=\"{kind}\",outcome=\"rejected\""),
            rejected as f64,
        ));
    }
    f.metric(
        "lakehouse_materializer_last_run_rows",
        "gauge",
        "Rows of the last run by kind and outcome (materialized, duplicate, rejected).",
        &lines,
    );
    let timings: Vec<(String, f64)> = r
        .timings_ms
        .iter()
        .map(|(phase, ms)| (format!("phase=\"{phase}\""), *ms as f64 / 1000.0))
        .collect();
    f.metric(
        "lakehouse_materializer_last_run_phase_seconds",
        "gauge",
        "Time of each phase of the last run (total included).",
        &timings,
    );
    f
}
