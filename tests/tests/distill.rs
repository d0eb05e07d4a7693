//! The distillation loop's tools end to end with the real binaries: drift between two replay
//! runs and between two windows of evidence, read through the gateway and stored as rows of
//! `drift_reports`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::fake_chat::FakeChat;
use lakehouse_e2e::{Fleet, JobRun, Storage, job};
use serde_json::{Value, json};

const TOKEN: &str = "distill-token";

fn fixture(kind: &str) -> String {
    let p = format!(
        "{}/../services/materializer/fixtures/{kind}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap()
}

fn fleet(chat_url: &str) -> (Fleet, Api) {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let jobs = f.jobs_config("", "k = 3\n");
    f.append_config(&format!(
        "[embed]\nprovider = \"hash\"\ndimension = 256\n\
         [chat]\nurl = \"{chat_url}\"\nmodel = \"fake-model\"\ntimeout_ms = 800\nattempts = 1\n{jobs}"
    ));
    f.start(&lakehouse_e2e::SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    (f, api)
}

/// Replays `tasks` and returns the run id.
async fn replay(f: &Fleet, name: &str, tasks: &[Value]) -> String {
    let path = f.dir.path().join(format!("{name}.jsonl"));
    let text: String = tasks.iter().map(|t| format!("{t}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let run = job(f, "replay", &["run", "--tasks", path.to_str().unwrap()]).await;
    JobRun::ok(&run)["run_id"].as_str().unwrap().to_owned()
}

fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["column"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_compares_runs_and_windows_and_stores_its_reports() {
    let chat = FakeChat::start().await;
    let (f, api) = fleet(&chat.url);
    for kind in ["openai_chat", "anthropic_messages", "scored_run"] {
        api.put(&format!("raw/{kind}/fixture.jsonl"), fixture(kind))
            .await;
    }
    JobRun::ok(&job(&f, "materializer", &["run", "--index", "evidence"]).await);

    // A baseline of short passing answers; then a run whose answers are long and fail.
    let short: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("t{i}"), "prompt": format!("Order {i} status?"), "validators": ["non_empty", {"max_chars": 100}]}))
        .collect();
    let long: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("t{i}"), "prompt": format!("Order {i} status? MODE:long"), "validators": ["non_empty", {"max_chars": 100}]}))
        .collect();
    let base = replay(&f, "base", &short).await;
    let again = replay(&f, "again", &short).await;
    let worse = replay(&f, "worse", &long).await;

    // The same behaviour twice: every column the behaviour decides is stable (timings of a
    // few milliseconds over 8 tasks are noise, and PSI says so: they are not asserted).
    let same = job(
        &f,
        "replay",
        &["drift", "--runs", &base, &again, "--no-store"],
    )
    .await;
    let same = JobRun::ok(&same);
    let v = verdicts(same);
    for column in [
        "prompt_tokens",
        "completion_tokens",
        "answer_chars",
        "attempts",
        "verdict",
        "model",
        "failures",
    ] {
        assert_eq!(v[column], "stable", "{column}: {same}");
    }
    assert!(
        v.contains_key("latency_ms") && v.contains_key("chat_ms"),
        "{same}"
    );
    assert_eq!(
        same["dataset_version"],
        Value::Null,
        "--no-store stores nothing"
    );

    // Long failing answers: a major shift in length, verdicts and failures.
    let run = job(
        &f,
        "replay",
        &["drift", "--runs", &base, &worse, "--fail-on", "major"],
    )
    .await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let report = &run.json;
    let v = verdicts(report);
    for column in ["answer_chars", "verdict", "failures"] {
        assert_eq!(v[column], "major", "{column}: {report}");
    }
    assert_eq!(v["model"], "stable", "{report}");
    let failures = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "failures")
        .unwrap();
    let labels: BTreeMap<&str, (u64, u64)> = failures["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["label"].as_str().unwrap(),
                (
                    b["count_a"].as_u64().unwrap(),
                    b["count_b"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        labels,
        BTreeMap::from([("(none)", (8, 0)), ("max_chars", (0, 8))])
    );
    let answers = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "answer_chars")
        .unwrap();
    let (a, b) = answers["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(a, b), x| {
            (
                a + x["count_a"].as_u64().unwrap(),
                b + x["count_b"].as_u64().unwrap(),
            )
        });
    assert_eq!((a, b), (8, 8), "bucket counts are conserved");

    // The report is rows of drift_reports, one per column.
    let id = report["report_id"].as_str().unwrap();
    let rows = api
        .rows(&format!(
            "SELECT \"column\", verdict, n_a, n_b, sample_a, sample_b FROM drift_reports WHERE report_id = '{id}' ORDER BY \"column\""
        ))
        .await;
    assert_eq!(rows.len(), report["columns"].as_array().unwrap().len());
    let verdict_row = rows.iter().find(|r| r["column"] == "verdict").unwrap();
    assert_eq!(
        (
            &verdict_row["verdict"],
            &verdict_row["n_a"],
            &verdict_row["sample_b"]
        ),
        (&json!("major"), &json!(8), &json!(worse))
    );

    // Two windows of evidence: each side counts exactly the records SQL finds there.
    let (w1, w2) = (
        "2026-01-01..2026-11-20T12:00:00Z",
        "2026-11-20T12:00:00Z..2027-01-01",
    );
    let run = job(&f, "replay", &["drift", "--windows", w1, w2, "--no-store"]).await;
    let report = JobRun::ok(&run);
    let count = |sql: &str| {
        let api = &api;
        let sql = sql.to_owned();
        async move { api.rows(&sql).await[0]["n"].as_u64().unwrap() }
    };
    let first =
        count("SELECT count(*) AS n FROM evidence WHERE ts < TIMESTAMP '2026-11-20 12:00:00'")
            .await;
    let second =
        count("SELECT count(*) AS n FROM evidence WHERE ts >= TIMESTAMP '2026-11-20 12:00:00'")
            .await;
    let kind = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "kind")
        .unwrap();
    assert_eq!(
        (kind["n_a"].as_u64(), kind["n_b"].as_u64()),
        (Some(first), Some(second)),
        "{report}"
    );
    assert!(first > 0 && second > 0, "the fixtures span both windows");

    // Bad arguments change nothing and say why.
    let before = api.rows("SELECT count(*) AS n FROM drift_reports").await;
    let bad = job(
        &f,
        "replay",
        &["drift", "--windows", "2026-11-01..soon", w2],
    )
    .await;
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("'soon' is neither a date"),
        "{}",
        bad.stderr
    );
    let one = job(&f, "replay", &["drift", "--runs", &base]).await;
    assert_eq!(one.code, Some(2), "{}", one.stderr);
    assert_eq!(
        api.rows("SELECT count(*) AS n FROM drift_reports").await,
        before
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn export(f: &Fleet, name: &str, extra: &[&str]) -> (JobRun, Vec<u8>, Vec<u8>) {
    let out = f.dir.path().join(format!("{name}.jsonl"));
    let pq = f.dir.path().join(format!("{name}.parquet"));
    let mut args = vec![
        "export-sft",
        "-o",
        out.to_str().unwrap(),
        "--parquet",
        pq.to_str().unwrap(),
        "--with-ids",
    ];
    args.extend_from_slice(extra);
    let run = job(f, "materializer", &args).await;
    let read = |p: &std::path::Path| std::fs::read(p).unwrap_or_default();
    (run, read(&out), read(&pq))
}

#[tokio::test(flavor = "multi_thread")]
async fn sft_export_keeps_the_firewall_shut_and_is_byte_identical() {
    let chat = FakeChat::start().await;
    let (f, api) = fleet(&chat.url);
    let line = |id: &str, prompt: &str, score: f64, tags: &[&str]| {
        json!({"run_id": id, "ts": "2026-11-22T10:00:00Z", "task": id, "model": "m", "prompt": prompt, "response": format!("answer to {id}"), "score": score, "tags": tags}).to_string() + "\n"
    };
    let scored = fixture("scored_run")
        + &line("sft-good", "What is 6 times 7?", 0.95, &[])
        + &line("sft-low", "What is 2 plus 2?", 0.3, &[])
        + &line("sft-held", "Held-out question", 0.99, &["held_out"])
        + &line("sft-ssn", "My SSN is 123-45-6789, what now?", 0.9, &[]);
    api.put("raw/scored_run/sft.jsonl", scored).await;
    api.put(
        "raw/held_out/scored_run/h.jsonl",
        line("sft-dir", "Kept for eval", 0.99, &[]),
    )
    .await;
    api.put("raw/validation/fixture.jsonl", fixture("validation"))
        .await;
    JobRun::ok(&job(&f, "materializer", &["run", "--index", "evidence"]).await);
    // A replay run with one pass and one failure, read back as evidence.
    let tasks = [
        json!({"id": "ok", "prompt": "Order 1182 status?", "validators": ["non_empty"]}),
        json!({"id": "too-long", "prompt": "Order 1183 status? MODE:long", "validators": [{"max_chars": 100}]}),
    ];
    replay(&f, "sft-tasks", &tasks).await;
    JobRun::ok(&job(&f, "materializer", &["run"]).await);

    let (run, jsonl, parquet) = export(&f, "first", &[]).await;
    let r = JobRun::ok(&run);
    assert_eq!(r["rows_read"], 10, "{r}");
    assert_eq!(r["rows_exported"], 4, "{r}");
    assert_eq!(
        r["excluded"],
        json!({"below_min_score": 1, "held_out": 1, "never_export_kind": 1, "never_export_source": 1, "not_passed": 1, "redacted": 1}),
        "{r}"
    );
    assert_eq!(r["output"]["sha256"], sha256_hex(&jsonl));
    assert_eq!(r["parquet"]["sha256"], sha256_hex(&parquet));
    let lines: Vec<Value> = std::str::from_utf8(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["evidence_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "in evidence_id order");
    let users: Vec<&str> = lines
        .iter()
        .map(|l| {
            let m = l["messages"].as_array().unwrap();
            assert_eq!(m[m.len() - 1]["role"], "assistant", "{l}");
            m[m.len() - 2]["content"].as_str().unwrap()
        })
        .collect();
    assert!(users.contains(&"What is 6 times 7?"), "{users:?}");
    assert!(users.contains(&"Order 1182 status?"), "{users:?}");
    for banned in [
        "Held-out",
        "Kept for eval",
        "REDACTED",
        "2 plus 2",
        "MODE:long",
    ] {
        assert!(
            users.iter().all(|u| !u.contains(banned)),
            "{banned} leaked: {users:?}"
        );
    }
    let (st, stored) = api
        .get(&format!(
            "/storage/objects/{}",
            r["receipt_key"].as_str().unwrap()
        ))
        .await;
    assert!(st.is_success(), "{stored}");
    assert_eq!(stored["output"]["sha256"], r["output"]["sha256"]);

    // The firewall holds whatever the filter says.
    let (run, jsonl_v, _) = export(&f, "validations", &["--where", "kind = 'validation'"]).await;
    let v = JobRun::ok(&run);
    assert_eq!(
        (v["rows_exported"].as_u64(), jsonl_v.len()),
        (Some(0), 0),
        "{v}"
    );
    assert_eq!(v["excluded"], json!({"never_export_kind": 1}), "{v}");

    // The same catalog version and options give the same bytes, after new evidence too.
    let version = r["catalog_version"].as_u64().unwrap().to_string();
    api.put(
        "raw/scored_run/later.jsonl",
        line("sft-later", "A later question", 0.9, &[]),
    )
    .await;
    JobRun::ok(&job(&f, "materializer", &["run"]).await);
    let (run, again, again_pq) = export(&f, "again", &["--as-of", &version]).await;
    JobRun::ok(&run);
    assert_eq!(
        (again == jsonl, again_pq == parquet),
        (true, true),
        "byte-identical at version {version}"
    );
    let (run, _, _) = export(&f, "now", &[]).await;
    assert_eq!(JobRun::ok(&run)["rows_exported"], 5);

    let (run, _, _) = export(&f, "bad", &["--min-score", "NaN"]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

async fn run_tasks(f: &Fleet, name: &str, tasks: &[Value], extra: &[&str]) -> Value {
    let path = f.dir.path().join(format!("{name}.jsonl"));
    let text: String = tasks.iter().map(|t| format!("{t}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let mut args = vec!["run", "--tasks", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    JobRun::ok(&job(f, "replay", &args).await).clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_playbook_records_passing_answers_and_offers_them_to_similar_tasks() {
    let chat = FakeChat::start().await;
    let (f, api) = fleet(&chat.url);
    api.put("raw/openai_chat/fixture.jsonl", fixture("openai_chat"))
        .await;
    JobRun::ok(&job(&f, "materializer", &["run", "--index", "evidence"]).await);
    let pb = [
        "--playbook",
        "pb",
        "--use-playbook",
        "--playbook-similarity",
        "0.5",
    ];
    let sms = |id: &str, prompt: &str| json!({"id": id, "prompt": prompt, "validators": ["non_empty", {"max_chars": 100}]});

    // A cold task that fails its validator is not recorded.
    let cold = run_tasks(
        &f,
        "cold",
        &[sms("cold", "Draft an SMS for order 77. MODE:long")],
        &pb,
    )
    .await;
    assert_eq!(cold["rows"][0]["verdict"], "fail", "{cold}");
    assert!(cold["rows"][0].get("playbook_entry").is_none(), "{cold}");
    let (_, info) = api.get("/vectors/index/pb").await;
    assert_eq!(
        (info["length"].as_u64(), info["text_field"].as_str()),
        (Some(0), Some("task")),
        "{info}"
    );

    // A passing answer is recorded, once however often it passes.
    let pass = run_tasks(
        &f,
        "pass",
        &[sms("pass", "Draft an SMS for order 77.")],
        &pb,
    )
    .await;
    let row = &pass["rows"][0];
    assert_eq!(row["verdict"], "pass", "{pass}");
    let entry = row["playbook_entry"].as_str().unwrap().to_owned();
    let again = run_tasks(
        &f,
        "pass-again",
        &[sms("pass", "Draft an SMS for order 77.")],
        &pb,
    )
    .await;
    assert_eq!(again["rows"][0]["playbook_entry"], entry.as_str());
    let (_, item) = api.get(&format!("/vectors/index/pb/items/{entry}")).await;
    assert_eq!(item["metadata"]["answer"], row["response"], "{item}");
    assert_eq!(item["metadata"]["task"], "Draft an SMS for order 77.");
    assert_eq!(item["metadata"]["validators"], "non_empty, max_chars");

    // A similar task gets it as a worked example; an unrelated one does not.
    let similar = sms("similar", "Please draft an SMS for order 77.");
    let unrelated = sms("unrelated", "Summarise the weather in Oslo.");
    let plan = run_tasks(
        &f,
        "plan",
        &[similar.clone(), unrelated],
        &[&pb[..], &["--dry-run"]].concat(),
    )
    .await;
    let example = format!("pb/{entry}");
    let planned = plan["planned"].as_array().unwrap();
    assert!(
        planned[0]["bundled_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(example)),
        "{plan}"
    );
    let user = planned[0]["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains(&format!("[worked example {example}]")),
        "{user}"
    );
    assert!(user.contains("Task: Draft an SMS for order 77."), "{user}");
    assert!(
        !planned[1]["bundled_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(example)),
        "{plan}"
    );
    // Without --use-playbook nothing is offered.
    let plain = run_tasks(&f, "plain", std::slice::from_ref(&similar), &["--dry-run"]).await;
    assert!(
        !plain["planned"][0]["bundled_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(example))
    );

    // The row records the entry it used, and its own success becomes a second entry.
    let used = run_tasks(&f, "used", &[similar], &pb).await;
    assert_eq!(used["rows"][0]["playbook_ids"], json!([example]), "{used}");
    let (_, info) = api.get("/vectors/index/pb").await;
    assert_eq!(info["length"], 2, "{info}");
    let bad = job(
        &f,
        "replay",
        &[
            "run",
            "--prompt",
            "x",
            "--playbook",
            "no/slash",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
}
