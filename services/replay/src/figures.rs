//! A run's figures as Prometheus series (`[replay] metrics_textfile`): when it ran, whether
//! its rows were stored, tasks by verdict, and the mean time of each step per task.

use lakehouse_jobs::textfile::{Figures, now_seconds};

use crate::run::Outcome;

/// The series of one outcome.
pub fn of(o: &Outcome) -> Figures {
    let mut f = Figures::default();
    f.metric(
        "lakehouse_replay_last_run_timestamp_seconds",
        "gauge",
        "When the last run finished (Unix time).",
        &[(String::new(), now_seconds())],
    );
    f.metric(
        "lakehouse_replay_last_run_success",
        "gauge",
        "1 when the last run's rows were stored, 0 otherwise.",
        &[(String::new(), if o.error.is_none() { 1.0 } else { 0.0 })],
    );
    let verdicts: Vec<(String, f64)> = ["pass", "fail", "error"]
        .iter()
        .map(|v| {
            let n = o.rows.iter().filter(|r| r.verdict == *v).count();
            (format!("verdict=\"{v}\""), n as f64)
        })
        .collect();
    f.metric(
        "lakehouse_replay_last_run_tasks",
        "gauge",
        "Tasks of the last run by verdict.",
        &verdicts,
    );
    let n = o.rows.len().max(1) as f64;
    let mean = |ms: fn(&crate::row::ReplayRow) -> i64| {
        o.rows.iter().map(|r| ms(r).max(0) as f64).sum::<f64>() / n / 1000.0
    };
    let steps = [
        ("embed", mean(|r| r.embed_ms)),
        ("search", mean(|r| r.search_ms)),
        ("fetch", mean(|r| r.fetch_ms)),
        ("bundle", mean(|r| r.bundle_ms)),
        ("chat", mean(|r| r.chat_ms)),
        ("validate", mean(|r| r.validate_ms)),
        ("task", mean(|r| r.latency_ms)),
    ];
    let steps: Vec<(String, f64)> = steps
        .iter()
        .map(|(s, v)| (format!("step=\"{s}\""), *v))
        .collect();
    f.metric(
        "lakehouse_replay_last_run_step_seconds",
        "gauge",
        "Mean time per task of each step of the last run.",
        &steps,
    );
    f
}
