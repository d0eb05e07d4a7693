//! `lakehouse jobs`: what the batch jobs did — the materializer's receipts (stored under
//! `_receipts/materializer/`) and replay's runs (the `replay_runs` dataset).

use reqwest::Method;
use serde_json::{Value, json};

use crate::output::{ListFormat, cell, list_format, print_json, print_list};
use crate::remote::{CliError, Remote, key_path, segment};

const RECEIPTS: &str = "_receipts/materializer/";

/// `lakehouse jobs …`.
#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// Materializer runs, newest first, from their receipts.
    Receipts {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// One materializer run's whole receipt (JSON).
    Receipt {
        /// The run id.
        run_id: String,
    },
    /// Replay runs, newest first: one line per run with its verdicts.
    Runs {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
    /// One replay run's tasks, with verdicts, failures and step timings.
    Run {
        /// The run id.
        run_id: String,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
}

/// Runs `lakehouse jobs …`.
pub async fn run(remote: &Remote, cmd: &JobsCommand) -> Result<(), CliError> {
    match cmd {
        JobsCommand::Receipts { limit, format } => receipts(remote, *limit, *format).await,
        JobsCommand::Receipt { run_id } => {
            let key = format!("{RECEIPTS}{run_id}.json");
            print_json(
                &remote
                    .get(&format!("/storage/objects/{}", key_path(&key)))
                    .await?,
            )
        }
        JobsCommand::Runs { limit, format } => {
            let sql = format!(
                "SELECT run_id, min(ts) AS started, count(*) AS tasks, \
                 count(*) FILTER (WHERE verdict = 'pass') AS pass, \
                 count(*) FILTER (WHERE verdict = 'fail') AS fail, \
                 count(*) FILTER (WHERE verdict = 'error') AS error, \
                 any_value(index_name) AS index_name, max(catalog_version) AS catalog_version \
                 FROM replay_runs GROUP BY run_id ORDER BY started DESC LIMIT {limit}"
            );
            let cols = [
                "run_id",
                "started",
                "tasks",
                "pass",
                "fail",
                "error",
                "index_name",
                "catalog_version",
            ];
            runs_query(remote, &sql, &cols, *format).await
        }
        JobsCommand::Run { run_id, format } => {
            let sql = format!(
                "SELECT task_id, verdict, array_to_string(failures, '; ') AS failures, latency_ms, \
                 chat_ms, search_ms, bundle_tokens, array_to_string(bundled_ids, ' ') AS bundled_ids \
                 FROM replay_runs WHERE run_id = {} ORDER BY ts, task_id",
                lakehouse_client::sql::literal(run_id)
            );
            let cols = [
                "task_id",
                "verdict",
                "failures",
                "latency_ms",
                "chat_ms",
                "search_ms",
                "bundle_tokens",
                "bundled_ids",
            ];
            runs_query(remote, &sql, &cols, *format).await
        }
    }
}

async fn runs_query(
    remote: &Remote,
    sql: &str,
    cols: &[&str],
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    let v = match remote
        .json(
            remote
                .request(Method::POST, "/sql")
                .json(&json!({"sql": sql})),
        )
        .await
    {
        // No replay has stored a run yet.
        Err(CliError::Api { message, .. }) if message.contains("replay_runs") => {
            json!({"rows": [], "row_count": 0})
        }
        other => other?,
    };
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    print_list(list_format(format), &v, &rows, cols)
}

async fn receipts(
    remote: &Remote,
    limit: usize,
    format: Option<ListFormat>,
) -> Result<(), CliError> {
    // Run ids sort by start time, so the newest receipts are the last keys.
    let mut keys: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/storage/list?prefix={}&limit=1000", segment(RECEIPTS));
        if let Some(a) = &after {
            path.push_str(&format!("&after={}", segment(a)));
        }
        let page = remote.get(&path).await?;
        keys.extend(page["objects"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_str() {
            Some(n) if page["truncated"] == true => after = Some(n.to_owned()),
            _ => break,
        }
    }
    keys.sort_by_key(|k| std::cmp::Reverse(cell(&k["key"])));
    keys.truncate(limit);
    let fetched = futures::future::join_all(keys.iter().map(|k| {
        let path = format!("/storage/objects/{}", key_path(&cell(&k["key"])));
        async move { remote.get(&path).await }
    }))
    .await;
    let mut rows = Vec::new();
    for r in fetched {
        let r = r?;
        let sum = |field: &str| -> u64 {
            r["inputs"]
                .as_array()
                .map_or(0, |i| i.iter().filter_map(|x| x[field].as_u64()).sum())
        };
        rows.push(json!({
            "run_id": r["run_id"], "status": r["status"], "started_at": r["started_at"],
            "input": r["input"], "materialized": sum("materialized"),
            "duplicate": sum("duplicate"), "rejected": sum("rejected"),
            "dataset_version": r["dataset"]["version"], "total_ms": r["timings_ms"]["total"],
        }));
    }
    let whole = json!({"receipts": rows, "count": rows.len()});
    print_list(
        list_format(format),
        &whole,
        &rows,
        &[
            "run_id",
            "status",
            "started_at",
            "input",
            "materialized",
            "duplicate",
            "rejected",
            "dataset_version",
            "total_ms",
        ],
    )
}
