//! `lakehouse validate`: checks an answer (a draft email, an SMS, a fill proposal, any JSON)
//! with the validators replay uses, offline. Exit 0 when it passes every one, 1 when it
//! fails any (each failure listed), 2 when a validator is misconfigured.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use lakehouse_validate::{Context, Validator, run_all};
use serde_json::{Value, json};

use crate::output::{ListFormat, list_format, print_list};
use crate::remote::{CliError, failed};

/// `lakehouse validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A validator, as a task lists it: `email`, `sms`, `no_pii`, `{"max_chars":160}`,
    /// `{"fill":{"fields":{"role":"string"},"max_candidates":3}}`, `{"json_schema":{…}}`;
    /// repeatable.
    #[arg(long = "validator", short = 'v', required = true)]
    validators: Vec<String>,
    /// An id of the evidence retrieved for the answer (a fill proposal may name only these);
    /// repeatable.
    #[arg(long = "evidence-id")]
    evidence_ids: Vec<String>,
    /// The answer: a file, or `-` (the default) for stdin.
    #[arg(default_value = "-")]
    answer: PathBuf,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    format: Option<ListFormat>,
}

fn parse(s: &str) -> Result<Validator, CliError> {
    // A bare name is a validator too: `email` as well as `"email"`.
    let v = serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()));
    Validator::parse(&v).map_err(|e| CliError::Usage(format!("--validator {s}: {e}")))
}

/// Runs `lakehouse validate`.
pub fn run(a: &ValidateArgs) -> Result<(), CliError> {
    let validators = a
        .validators
        .iter()
        .map(|s| parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut answer = String::new();
    if a.answer.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut answer)
            .map_err(|e| failed("reading the answer from stdin", e))?;
    } else {
        answer = std::fs::read_to_string(&a.answer)
            .map_err(|e| failed(format_args!("reading {}", a.answer.display()), e))?;
    }
    let ctx = Context {
        evidence_ids: &a.evidence_ids,
    };
    let failures = run_all(&validators, &answer, &ctx);
    let rows: Vec<Value> = failures
        .iter()
        .map(|f| {
            let (validator, reason) = f.split_once(": ").unwrap_or(("", f));
            json!({"validator": validator, "reason": reason})
        })
        .collect();
    let whole = json!({
        "verdict": if failures.is_empty() { "pass" } else { "fail" },
        "validators": validators.iter().map(Validator::name).collect::<Vec<_>>(),
        "failures": rows,
    });
    let format = list_format(a.format);
    if failures.is_empty() && format == ListFormat::Table {
        println!(
            "pass ({})",
            validators
                .iter()
                .map(Validator::name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    print_list(format, &whole, &rows, &["validator", "reason"])?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("{} failure(s)", failures.len())))
    }
}
