//! `replay run --prompt TEXT | --tasks FILE.jsonl [--index NAME] [--k N] [--as-of V]
//! [--retrieve sql|calls] [--dry-run] [--strict]`, and `replay drift --runs A B | --windows
//! F..T F..T` (see [`lakehouse_replay::drift_report`]).
//!
//! stdout carries the result: a line per task and a summary on a terminal, else one JSON
//! document. Exit status: 0 done; 1 the run failed (retrieval impossible, or rows could not
//! be stored — they are then saved locally and the path is printed); 2 bad arguments, tasks
//! or config (including no chat model without `--dry-run`); 3 with `--strict`, a task did not
//! pass.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lakehouse_common::config::RetrieveMode;
use lakehouse_jobs::JobContext;
use lakehouse_replay::drift_report::{self, DriftArgs};
use lakehouse_replay::row::ReplayRow;
use lakehouse_replay::run::{Options, Outcome, run};
use lakehouse_replay::task::{self, Task};
use lakehouse_validate::Validator;

/// replay: retrieves evidence, calls a chat model, validates and logs each task.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Path of the configuration file.
    #[arg(long, default_value = "lakehouse.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay one prompt or a file of tasks.
    Run(RunArgs),
    /// Compare two replay runs, or two windows of evidence, column by column (PSI).
    Drift(DriftArgs),
}

/// `replay run` arguments.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// One task's text.
    #[arg(long, conflicts_with = "tasks", required_unless_present = "tasks")]
    prompt: Option<String>,
    /// A JSON-lines file of tasks: {"id","prompt","validators"?,"k"?,"model"?,"system"?,"max_tokens"?}.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Validators for --prompt: a name (non_empty, no_pii, json) or a JSON object
    /// ({"max_chars":160}, {"regex":"^\\d+$"}, {"json":{"required":["id"]}}); repeatable.
    #[arg(long = "validate", requires = "prompt")]
    validators: Vec<String>,
    /// Vector index to search (default `[replay] index`).
    #[arg(long)]
    index: Option<String>,
    /// Evidence records per task (default `[replay] k`).
    #[arg(long)]
    k: Option<usize>,
    /// Token budget of the bundled prompt (default `[replay] budget_tokens`).
    #[arg(long)]
    budget_tokens: Option<u64>,
    /// Model (default `[chat] model`; a task's own model wins).
    #[arg(long)]
    model: Option<String>,
    /// Retrieve and bundle only: no chat, nothing written.
    #[arg(long)]
    dry_run: bool,
    /// Retrieve and fetch evidence as at a catalog version (a number) or time (RFC
    /// 3339): the index as committed then, the evidence as it was then.
    #[arg(long)]
    as_of: Option<String>,
    /// How evidence is retrieved (default `[replay] retrieve`): `sql`, one statement
    /// joining vector_search with the evidence dataset, or `calls`, a search then a query.
    #[arg(long, value_parser = ["sql", "calls"])]
    retrieve: Option<String>,
    /// Rank evidence by the task's keywords (BM25 over the index's text field, see
    /// `materializer run --index-text`) fused with its vector; implies `--retrieve calls`.
    #[arg(long)]
    hybrid: bool,
    /// Record each answer that passes every validator into this playbook index (created if
    /// missing).
    #[arg(long)]
    playbook: Option<String>,
    /// Also offer each task the closest past successes of the playbook as worked examples.
    #[arg(long, requires = "playbook")]
    use_playbook: bool,
    /// Worked examples per task, at most.
    #[arg(long, default_value_t = 2, requires = "use_playbook")]
    playbook_k: usize,
    /// Only past tasks at least this similar (cosine similarity, 0..=1).
    #[arg(long, default_value_t = 0.8, requires = "use_playbook")]
    playbook_similarity: f32,
    /// Exit with status 3 when a task fails validation or its chat fails.
    #[arg(long)]
    strict: bool,
    /// Print JSON even on a terminal.
    #[arg(long)]
    json: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("replay: {msg}");
    ExitCode::from(2)
}

fn parse_validator(s: &str) -> Result<Validator, String> {
    let v = if s.trim_start().starts_with('{') {
        serde_json::from_str(s).map_err(|e| format!("--validate {s}: {e}"))?
    } else {
        serde_json::Value::String(s.to_owned())
    };
    Validator::parse(&v).map_err(|e| format!("--validate {s}: {e}"))
}

fn print_row(r: &ReplayRow) {
    let mark = match r.verdict.as_str() {
        "pass" => "pass ",
        "fail" => "FAIL ",
        _ => "ERROR",
    };
    println!(
        "{mark} {:<24} {:>6} ms (chat {} ms, {} tries) · {} evidence bundled · {}",
        r.task_id,
        r.latency_ms,
        r.chat_ms,
        r.attempts,
        r.bundled_ids.len(),
        if r.failures.is_empty() {
            String::new()
        } else {
            r.failures.join("; ")
        }
    );
}

fn summary(o: &Outcome, dry_run: bool) {
    if dry_run {
        for p in &o.planned {
            println!(
                "task {}: {} retrieved, {} bundled, ~{} tokens",
                p.task_id,
                p.retrieved.len(),
                p.bundled_ids.len(),
                p.bundle_tokens
            );
            for m in &p.messages {
                println!("--- {}\n{}", m.role, m.content);
            }
            println!();
        }
        println!("dry run {}: nothing sent, nothing written", o.run_id);
        return;
    }
    let pass = o.rows.iter().filter(|r| r.verdict == "pass").count();
    println!(
        "replay run {}: {} task(s), {pass} passed, {} did not; logged in {} ms to {}",
        o.run_id,
        o.rows.len(),
        o.not_passed(),
        o.log_ms,
        o.objects.join(", ")
    );
    if let Some(v) = o.dataset_version {
        println!("replay_runs is at version {v}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let ctx = match JobContext::load("replay", &args.config, |c| &c.replay.gateway_url) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let RunArgs {
        prompt,
        tasks,
        validators,
        index,
        k,
        budget_tokens,
        model,
        dry_run,
        as_of,
        retrieve,
        hybrid,
        playbook,
        use_playbook,
        playbook_k,
        playbook_similarity,
        strict,
        json,
    } = match args.command {
        Command::Drift(a) => return drift_report::command(&ctx, &a),
        Command::Run(r) => r,
    };
    if let Some(e) = playbook
        .as_deref()
        .and_then(|name| lakehouse_types::name_error("playbook index", name))
    {
        return usage(format!("--playbook: {e}"));
    }
    if !(0.0..=1.0).contains(&playbook_similarity) {
        return usage("--playbook-similarity is between 0 and 1");
    }
    let as_of = as_of.map(|a| match a.parse::<u64>() {
        Ok(v) => lakehouse_types::AsOf::Version(v),
        Err(_) => lakehouse_types::AsOf::Time(a),
    });
    let list: Vec<Task> = match (prompt, tasks) {
        (Some(p), _) => {
            let vs = match validators.iter().map(|s| parse_validator(s)).collect() {
                Ok(v) => v,
                Err(e) => return usage(e),
            };
            match task::from_prompt(&p, vs) {
                Ok(t) => vec![t],
                Err(e) => return usage(e),
            }
        }
        (None, Some(path)) => {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => return usage(format!("{}: {e}", path.display())),
            };
            match task::parse_file(&text) {
                Ok(t) => t,
                Err(e) => return usage(format!("{}: {e}", path.display())),
            }
        }
        (None, None) => return usage("give --prompt TEXT or --tasks FILE.jsonl"),
    };
    if !dry_run && ctx.config.chat.url.is_none() {
        return usage(format!(
            "no chat model is configured: set [chat] url in {} to an OpenAI-compatible server \
             (Ollama, vLLM, llama.cpp); --dry-run retrieves and bundles without one",
            args.config.display()
        ));
    }
    let cfg = &ctx.config.replay;
    let opts = Options {
        index: index.unwrap_or_else(|| cfg.index.clone()),
        k: k.unwrap_or(cfg.k).clamp(1, 1000),
        budget_tokens: budget_tokens.unwrap_or(cfg.budget_tokens as u64),
        dry_run,
        model,
        chat_backoff: None,
        as_of,
        retrieve: match retrieve.as_deref() {
            Some("calls") => RetrieveMode::Calls,
            Some(_) => RetrieveMode::Sql,
            None => cfg.retrieve,
        },
        hybrid,
        playbook: playbook.map(|index| lakehouse_replay::playbook::Playbook {
            index,
            use_examples: use_playbook,
            k: playbook_k.min(20),
            min_similarity: playbook_similarity,
        }),
    };
    let human = lakehouse_jobs::progress::human_stdout() && !json;
    let rt = match lakehouse_jobs::runtime("replay") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let embedder = lakehouse_jobs::embed::from_config(&ctx);
    let outcome = rt.block_on(run(&ctx, embedder, &list, &opts, |r| {
        if human {
            print_row(r);
        }
    }));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::from(1);
        }
    };
    let textfile = &ctx.config.replay.metrics_textfile;
    if !textfile.is_empty()
        && !dry_run
        && let Err(e) = lakehouse_replay::figures::of(&outcome).write(textfile.as_ref())
    {
        eprintln!("replay: metrics_textfile {textfile}: {e}");
    }
    if human {
        summary(&outcome, dry_run);
    } else {
        match serde_json::to_string_pretty(&outcome) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("replay: {e}"),
        }
    }
    if let Some(e) = &outcome.error {
        eprintln!("replay: the rows could not be stored: {e}");
        if let Some(p) = &outcome.saved_locally {
            eprintln!("replay: they are saved in {p}");
        }
        return ExitCode::from(1);
    }
    if strict && outcome.not_passed() > 0 {
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}
