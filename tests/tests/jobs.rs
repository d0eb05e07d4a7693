//! The batch jobs end to end with the real binaries: raw logs of every kind → materialize
//! (twice: idempotent; then appended lines; then a dry run) → SQL over `evidence` → replay
//! tasks against a chat server (the tests' own, for the failure paths) → SQL over
//! `replay_runs` → the replay rows materialized back as evidence.

// Test support: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::fake_chat::FakeChat;
use lakehouse_e2e::{Fleet, JobRun, Storage, job};
use serde_json::{Value, json};

const TOKEN: &str = "jobs-token";

fn fixture(kind: &str) -> String {
    let p = format!(
        "{}/../services/materializer/fixtures/{kind}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap()
}

const KINDS: [&str; 7] = [
    "anthropic_messages",
    "openai_chat",
    "otel_genai",
    "replay_run",
    "scored_run",
    "tool_call",
    "validation",
];

/// A fleet whose jobs use the hash embedder and `chat_url` (if any), with fast chat retries
/// and at most 3 rows per evidence object.
fn fleet(chat_url: Option<&str>) -> (Fleet, Api) {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let chat = chat_url
        .map(|u| format!("url = \"{u}\"\nmodel = \"fake-model\"\n"))
        .unwrap_or_default();
    let jobs = f.jobs_config("max_rows_per_object = 3\n", "k = 4\n");
    f.append_config(&format!(
        "[embed]\nprovider = \"hash\"\ndimension = 256\n\
         [chat]\n{chat}timeout_ms = 800\nattempts = 2\n{jobs}"
    ));
    f.start(&lakehouse_e2e::SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    (f, api)
}

fn kind_counts(receipt: &Value, field: &str) -> BTreeMap<String, u64> {
    receipt["kinds"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v[field].as_u64().unwrap()))
        .collect()
}

fn total(receipt: &Value, field: &str) -> u64 {
    kind_counts(receipt, field).values().sum()
}

async fn manifest_version(api: &Api, name: &str) -> u64 {
    let (st, m) = api.get(&format!("/catalog/manifest/{name}")).await;
    assert!(st.is_success(), "{m}");
    m["version"].as_u64().unwrap()
}

async fn count(api: &Api, sql: &str) -> i64 {
    api.rows(sql).await[0]["n"].as_i64().unwrap()
}

const SSN_LINE: &str = r#"{"timestamp":"2026-11-21T12:00:00Z","request":{"model":"m","messages":[{"role":"user","content":"My SSN is 123-45-6789, my phone 555-867-5309,   born 1990-04-01."}]},"response":{"choices":[{"message":{"role":"assistant","content":"Noted."},"finish_reason":"stop"}]}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn raw_logs_become_evidence_replays_and_evidence_again() {
    let chat = FakeChat::start().await;
    let (f, api) = fleet(Some(&chat.url));

    // Raw logs of every kind; openai_chat also gets a malformed line (5), a line without
    // messages (6) and one with an SSN, a phone number and a date (7).
    for kind in KINDS {
        let mut text = fixture(kind);
        if kind == "openai_chat" {
            text.push_str("{not json\n{\"request\":{\"model\":\"x\"}}\n");
            text.push_str(SSN_LINE);
            text.push('\n');
        }
        api.put(&format!("raw/{kind}/fixture.jsonl"), text).await;
    }
    api.put("raw/unknown_kind/x.jsonl", "{}\n").await;

    let first = job(&f, "materializer", &["run", "--index", "evidence"]).await;
    let r = JobRun::ok(&first);
    assert_eq!(r["status"], "ok");
    let read = kind_counts(r, "read");
    assert_eq!(read["openai_chat"], 7);
    assert_eq!(read["otel_genai"], 4);
    let new = kind_counts(r, "materialized");
    assert_eq!(new["openai_chat"], 5);
    assert_eq!(new["anthropic_messages"], 3);
    assert_eq!(new["otel_genai"], 4, "one record per GenAI span");
    assert_eq!(total(r, "materialized"), 20);
    assert_eq!(
        r["kinds"]["openai_chat"]["rejected"],
        json!({"invalid_json": 1, "missing_messages": 1})
    );
    let rejected: Vec<(u64, &str)> = r["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["line"].as_u64().unwrap(), x["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, vec![(5, "invalid_json"), (6, "missing_messages")]);
    let unknown = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["source"] == "raw/unknown_kind/x.jsonl")
        .unwrap();
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .contains("no record kind")
    );
    assert_eq!(unknown["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(r["redactions"], 1);
    assert_eq!(r["index"]["upserted"], 20);
    // At most 3 rows per object (max_rows_per_object), so days are split into several.
    let outputs = r["outputs"].as_array().unwrap();
    assert!(outputs.len() >= 7, "{outputs:?}");
    assert!(outputs.iter().all(|o| o["rows"].as_u64().unwrap() <= 3));
    let run_id = r["run_id"].as_str().unwrap();
    let (st, stored) = api
        .get(&format!(
            "/storage/objects/_receipts/materializer/{run_id}.json"
        ))
        .await;
    assert!(st.is_success());
    assert_eq!(stored["kinds"], r["kinds"]);
    let version = r["dataset"]["version"].as_u64().unwrap();
    assert_eq!(version, manifest_version(&api, "evidence").await);

    // SQL over the evidence.
    assert_eq!(count(&api, "SELECT count(*) AS n FROM evidence").await, 20);
    assert_eq!(
        count(
            &api,
            "SELECT count(DISTINCT evidence_id) AS n FROM evidence"
        )
        .await,
        20
    );
    assert_eq!(
        count(
            &api,
            "SELECT count(*) AS n FROM evidence WHERE prompt LIKE '%123-45-6789%'"
        )
        .await,
        0
    );
    let ssn = api
        .rows("SELECT prompt, redactions, tokens_estimated, day FROM evidence WHERE prompt LIKE '%555-867-5309%'")
        .await;
    assert_eq!(ssn.len(), 1);
    assert_eq!(
        ssn[0]["prompt"],
        "user: My SSN is [REDACTED-SSN], my phone 555-867-5309, born 1990-04-01."
    );
    assert_eq!(ssn[0]["redactions"], 1);
    assert_eq!(ssn[0]["tokens_estimated"], true);
    let chat_row = api
        .rows("SELECT model, prompt_tokens, completion_tokens, tokens_estimated, latency_ms, outcome, tags, ts, day FROM evidence WHERE run_id = 'chatcmpl-AZ9x1k2' OR task = 'order_status' AND kind = 'openai_chat'")
        .await;
    assert_eq!(chat_row[0]["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(chat_row[0]["prompt_tokens"], 41);
    assert_eq!(chat_row[0]["tokens_estimated"], false);
    assert_eq!(chat_row[0]["tags"], json!(["support", "orders"]));
    assert_eq!(chat_row[0]["ts"], "2026-11-20T09:14:03.120");
    // DuckDB's JSON functions read `metadata` (the release build has the extension built in).
    let meta = api
        .rows("SELECT json_extract_string(metadata, '$.response_id') AS id, metadata->>'finish_reason' AS finish, json_valid(metadata) AS valid FROM evidence WHERE run_id = 'chatcmpl-AZ9x1k2'")
        .await;
    assert_eq!(
        meta,
        vec![json!({"id": "chatcmpl-AZ9x1k2", "finish": "stop", "valid": true})]
    );
    // Objects sit in the partition of their rows' day, and every day has its objects.
    let keys = api.keys("evidence/").await;
    for o in outputs {
        let key = o["key"].as_str().unwrap();
        assert!(key.starts_with(&format!("evidence/day={}/", o["day"].as_str().unwrap())));
        assert!(keys.iter().any(|k| k == key));
    }
    let key_days: std::collections::BTreeSet<&str> = keys
        .iter()
        .map(|k| k.split("day=").nth(1).unwrap().split('/').next().unwrap())
        .collect();
    let row_days: std::collections::BTreeSet<String> = api
        .rows("SELECT DISTINCT CAST(day AS VARCHAR) AS d FROM evidence")
        .await
        .iter()
        .map(|r| r["d"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(key_days, row_days.iter().map(String::as_str).collect());
    let (_, idx) = api.get("/vectors/index/evidence").await;
    assert_eq!(idx["length"], 20);

    // Twice: nothing new, no object, no manifest change.
    let again = job(&f, "materializer", &["run", "--index", "evidence"]).await;
    let r2 = JobRun::ok(&again);
    assert_eq!(total(r2, "materialized"), 0);
    assert_eq!(total(r2, "duplicate"), 20);
    assert_eq!(r2["outputs"], json!([]));
    assert_eq!(r2["dataset"]["changed"], false);
    assert_eq!(manifest_version(&api, "evidence").await, version);
    assert_eq!(api.keys("evidence/").await, keys);

    // Appended lines: exactly the new records.
    let mut tools = fixture("tool_call");
    tools.push_str(r#"{"run_id":"run-9","ts":"2026-11-22T08:00:00Z","tool":"send_sms","arguments":{"to":"555-010-2000"},"result":"queued"}"#);
    tools.push('\n');
    api.put("raw/tool_call/fixture.jsonl", tools.clone()).await;
    let third = job(&f, "materializer", &["run"]).await;
    let r3 = JobRun::ok(&third);
    assert_eq!(total(r3, "materialized"), 1);
    assert_eq!(kind_counts(r3, "materialized")["tool_call"], 1);
    assert_eq!(manifest_version(&api, "evidence").await, version + 1);
    assert_eq!(count(&api, "SELECT count(*) AS n FROM evidence").await, 21);

    // A dry run reports and writes nothing.
    tools.push_str(r#"{"run_id":"run-10","ts":"2026-11-22T09:00:00Z","tool":"send_sms","arguments":{},"result":"queued"}"#);
    tools.push('\n');
    api.put("raw/tool_call/fixture.jsonl", tools).await;
    let receipts = api.keys("_receipts/materializer/").await;
    let keys = api.keys("evidence/").await;
    let dry = job(&f, "materializer", &["run", "--dry-run"]).await;
    let d = JobRun::ok(&dry);
    assert_eq!(d["status"], "dry_run");
    assert_eq!(d["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(api.keys("evidence/").await, keys);
    assert_eq!(api.keys("_receipts/materializer/").await, receipts);
    assert_eq!(manifest_version(&api, "evidence").await, version + 1);

    // Replay: every path of the chat call.
    let tasks = f.dir.path().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        [
            json!({"id": "json", "prompt": "Return order 1182 as JSON. MODE:json", "validators": [{"json": {"required": ["id", "status"]}}, "non_empty"]}),
            json!({"id": "sms", "prompt": "Write an SMS about order 1182. MODE:long", "validators": [{"max_chars": 160}]}),
            json!({"id": "pii", "prompt": "Summarise the customer record. MODE:pii", "validators": ["no_pii", "non_empty"]}),
            json!({"id": "slow", "prompt": "Anything. MODE:timeout", "validators": ["non_empty"]}),
            json!({"id": "down", "prompt": "Anything. MODE:500", "validators": ["non_empty"]}),
            json!({"id": "flaky", "prompt": "Order status please. MODE:flaky", "validators": ["non_empty", {"regex": "1182"}]}),
            json!({"id": "garbled", "prompt": "Anything. MODE:malformed"}),
        ]
        .iter()
        .map(|t| format!("{t}\n"))
        .collect::<String>(),
    )
    .unwrap();
    let rep = job(&f, "replay", &["run", "--tasks", tasks.to_str().unwrap()]).await;
    let o = JobRun::ok(&rep);
    let rows = o["rows"].as_array().unwrap();
    let by_task: BTreeMap<&str, &Value> = rows
        .iter()
        .map(|r| (r["task_id"].as_str().unwrap(), r))
        .collect();
    let verdict = |t: &str| by_task[t]["verdict"].as_str().unwrap();
    assert_eq!(verdict("json"), "pass");
    assert_eq!(verdict("sms"), "fail");
    assert_eq!(by_task["sms"]["failures"], json!(["max_chars: 200 > 160"]));
    assert_eq!(verdict("pii"), "fail");
    assert_eq!(
        by_task["pii"]["failures"],
        json!(["no_pii: 1 SSN-shaped string(s)"])
    );
    assert_eq!(verdict("slow"), "error");
    assert_eq!(by_task["slow"]["failures"], json!(["chat: timeout"]));
    assert_eq!(by_task["slow"]["attempts"], 2);
    assert_eq!(verdict("down"), "error");
    assert_eq!(by_task["down"]["failures"], json!(["chat: http_500"]));
    assert_eq!(verdict("flaky"), "pass");
    assert_eq!(by_task["flaky"]["attempts"], 2);
    assert_eq!(verdict("garbled"), "error");
    assert_eq!(
        by_task["garbled"]["failures"],
        json!(["chat: malformed_reply"])
    );
    let json_row = by_task["json"];
    assert_eq!(json_row["prompt_tokens"], 50);
    assert_eq!(json_row["dataset_version"], version + 1);
    assert!(json_row["index_version"].as_i64().unwrap() > 0);
    assert!(!json_row["bundled_ids"].as_array().unwrap().is_empty());
    // What the model was sent: the system prompt, evidence, the task; temperature 0.
    let sent = chat.requests.lock().unwrap().clone();
    let json_req = sent
        .iter()
        .find(|b| {
            b["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("MODE:json")
        })
        .unwrap();
    assert_eq!(json_req["temperature"], 0);
    assert_eq!(json_req["model"], "fake-model");
    assert!(
        json_req["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("[evidence ")
    );

    // SQL over the replays.
    assert_eq!(
        count(&api, "SELECT count(*) AS n FROM replay_runs").await,
        7
    );
    let verdicts = api
        .rows("SELECT verdict, count(*) AS n FROM replay_runs GROUP BY verdict ORDER BY verdict")
        .await;
    assert_eq!(
        verdicts,
        vec![
            json!({"verdict": "error", "n": 3}),
            json!({"verdict": "fail", "n": 2}),
            json!({"verdict": "pass", "n": 2})
        ]
    );
    let replay_keys = api.keys("replay_runs/").await;
    assert_eq!(replay_keys.len(), 1, "one object per run: {replay_keys:?}");

    // --strict makes a failed validation the exit status.
    let strict = job(
        &f,
        "replay",
        &[
            "run",
            "--prompt",
            "Write an SMS. MODE:long",
            "--validate",
            "{\"max_chars\":160}",
            "--strict",
        ],
    )
    .await;
    assert_eq!(strict.code, Some(3), "{}", strict.stderr);

    // The replay rows come back as evidence (and the SSN in a model's answer is redacted).
    let back = job(&f, "materializer", &["run"]).await;
    let b = JobRun::ok(&back);
    assert_eq!(kind_counts(b, "materialized")["replay_run"], 8);
    assert_eq!(
        count(&api, "SELECT count(*) AS n FROM evidence WHERE kind = 'replay_run' AND tags = ['replay'] AND task IS NOT NULL").await,
        8 + 2,
        "8 replays plus the 2 fixture rows"
    );
    let pii = api
        .rows("SELECT response, outcome, redactions FROM evidence WHERE kind = 'replay_run' AND task = 'pii'")
        .await;
    assert_eq!(pii[0]["outcome"], "fail");
    assert_eq!(
        pii[0]["response"],
        "Your SSN on file is [REDACTED-SSN]; call 555-123-4567."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_chat_model_replay_only_dry_runs_and_bad_input_changes_nothing() {
    let (f, api) = fleet(None);
    let fixtures = format!(
        "{}/../services/materializer/fixtures",
        env!("CARGO_MANIFEST_DIR")
    );

    // A local directory; each file's kind from its name.
    let local = job(
        &f,
        "materializer",
        &["run", "--input", &fixtures, "--index", "evidence"],
    )
    .await;
    let r = JobRun::ok(&local);
    assert_eq!(total(r, "materialized"), 19);
    assert_eq!(r["inputs"].as_array().unwrap().len(), 7);

    // Real-world lines, each directory naming its kind: 59 rows from 58 lines, 6 rejections
    // with their reasons (the line-by-line expectations are the materializer's own test).
    let realogs = format!("{fixtures}/../tests/realogs/raw");
    let dry = job(
        &f,
        "materializer",
        &["run", "--input", &realogs, "--dry-run"],
    )
    .await;
    let r = JobRun::ok(&dry);
    assert_eq!(r["inputs"].as_array().unwrap().len(), 13);
    assert_eq!(
        kind_counts(r, "materialized"),
        BTreeMap::from([
            ("anthropic_messages".to_owned(), 21),
            ("openai_chat".to_owned(), 23),
            ("otel_genai".to_owned(), 15),
        ])
    );
    assert_eq!(
        r["kinds"]["anthropic_messages"]["rejected"],
        json!({"missing_messages": 2, "missing_timestamp": 1})
    );
    assert_eq!(
        r["kinds"]["openai_chat"]["rejected"],
        json!({"missing_messages": 1})
    );
    assert_eq!(
        r["kinds"]["otel_genai"]["rejected"],
        json!({"no_genai_span": 2})
    );
    assert_eq!(r["redactions"], 0);

    // No chat server: replay says so and exits 2, unless --dry-run.
    let no_chat = job(&f, "replay", &["run", "--prompt", "order 1182"]).await;
    assert_eq!(no_chat.code, Some(2));
    assert!(
        no_chat.stderr.contains("no chat model is configured"),
        "{}",
        no_chat.stderr
    );
    let dry = job(
        &f,
        "replay",
        &["run", "--prompt", "Where is order 1182?", "--dry-run"],
    )
    .await;
    let d = JobRun::ok(&dry);
    let plan = &d["planned"][0];
    assert_eq!(
        plan["retrieved"].as_array().unwrap().len(),
        4,
        "k = 4 from the config"
    );
    assert!(
        plan["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Where is order 1182?")
    );
    assert!(api.keys("replay_runs/").await.is_empty());
    assert!(api.keys("raw/replay_run/").await.is_empty());

    // A small budget drops the least relevant evidence, whole.
    let tight = job(
        &f,
        "replay",
        &[
            "run",
            "--prompt",
            "Where is order 1182?",
            "--dry-run",
            "--budget-tokens",
            "120",
        ],
    )
    .await;
    let t = JobRun::ok(&tight);
    let bundled = t["planned"][0]["bundled_ids"].as_array().unwrap();
    let retrieved = t["planned"][0]["retrieved"].as_array().unwrap();
    assert!(bundled.len() < retrieved.len(), "{t}");
    for (b, r) in bundled.iter().zip(retrieved) {
        assert_eq!(b, &r[0], "kept in relevance order");
    }

    // Bad tasks, a missing index, a bad prefix: clear errors, nothing written.
    let bad = f.dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"a\",\"prompt\":\"p\"}\n{\"id\":\"b\",\"prompt\":\"p\",\"validators\":[\"sparkles\"]}\n").unwrap();
    let r = job(
        &f,
        "replay",
        &["run", "--tasks", bad.to_str().unwrap(), "--dry-run"],
    )
    .await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("line 2: validators[0]: unknown validator 'sparkles'"),
        "{}",
        r.stderr
    );
    let r = job(
        &f,
        "replay",
        &["run", "--prompt", "x", "--dry-run", "--index", "nope"],
    )
    .await;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("there is no vector index 'nope'"),
        "{}",
        r.stderr
    );
    let version = manifest_version(&api, "evidence").await;
    let r = job(&f, "materializer", &["run", "--input", "raw/../etc"]).await;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.json["status"], "failed");
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("neither a local path nor a valid storage prefix")
    );
    assert_eq!(manifest_version(&api, "evidence").await, version);
    let r = job(&f, "materializer", &["run", "--index", "bad name!"]).await;
    assert_eq!(r.code, Some(2));
}

/// A replay `--as-of` the version a materializer run ended at retrieves and bundles exactly
/// what it did then, after the evidence and the index have moved on.
#[tokio::test]
async fn replay_as_of_an_old_version_gets_the_old_bundle_byte_for_byte() {
    let (mut f, api) = fleet(None);
    api.put("raw/openai_chat/a.jsonl", fixture("openai_chat"))
        .await;
    let first = job(&f, "materializer", &["run", "--index", "evidence"]).await;
    let r = JobRun::ok(&first);
    let v = r["index"]["catalog_version"].as_u64().unwrap();
    assert!(v > r["dataset"]["catalog_version"].as_u64().unwrap(), "{r}");
    let prompt = "Where is my order #1182?";
    let plan = |args: Vec<String>| {
        let f = &f;
        async move {
            let mut all = vec![
                "run".to_owned(),
                "--prompt".into(),
                prompt.into(),
                "--dry-run".into(),
            ];
            all.extend(args);
            // One statement (the default) and two calls plan the same bundle.
            let mut planned = Vec::new();
            for mode in ["sql", "calls"] {
                let mut with = all.clone();
                with.extend(["--retrieve".to_owned(), mode.to_owned()]);
                let refs: Vec<&str> = with.iter().map(String::as_str).collect();
                let run = job(f, "replay", &refs).await;
                let mut p = JobRun::ok(&run)["planned"][0].clone();
                let timings = p.as_object_mut().unwrap().remove("timings_ms").unwrap();
                assert!(timings["search"].is_u64(), "{timings}");
                planned.push(p);
            }
            assert_eq!(planned[0], planned[1], "sql and calls plan alike");
            planned.swap_remove(0)
        }
    };
    let then = plan(Vec::new()).await;
    assert_eq!(then["catalog_version"], v, "{then}");

    // New evidence that answers the prompt word for word, indexed and committed.
    let line = json!({"timestamp": "2026-11-30T10:00:00Z", "request": {"model": "m",
        "messages": [{"role": "user", "content": prompt}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": "It left the depot today."}}]}});
    api.put("raw/openai_chat/b.jsonl", format!("{line}\n"))
        .await;
    let second = job(&f, "materializer", &["run", "--index", "evidence"]).await;
    let v2 = JobRun::ok(&second)["index"]["catalog_version"]
        .as_u64()
        .unwrap();
    assert!(v2 > v);
    let now = plan(Vec::new()).await;
    assert_ne!(
        now["retrieved"], then["retrieved"],
        "the new record should be retrieved now"
    );

    let old = plan(vec!["--as-of".into(), v.to_string()]).await;
    assert_eq!(old["retrieved"], then["retrieved"]);
    assert_eq!(old["bundled_ids"], then["bundled_ids"]);
    assert_eq!(
        serde_json::to_string(&old["messages"]).unwrap(),
        serde_json::to_string(&then["messages"]).unwrap(),
        "the bundle as of v{v} is the one sent then"
    );
    assert_eq!(old["catalog_version"], v);

    // A queryd that cannot reach vectord cannot run vector_search: replay says so and makes
    // two calls through the gateway.
    let config = std::fs::read_to_string(&f.config).unwrap();
    let (before, after) = config.split_once("[queryd]").unwrap();
    let (queryd, rest) = after.split_once("\n[").unwrap();
    let queryd: String = queryd
        .lines()
        .map(|l| {
            if l.starts_with("vectord_url") {
                "vectord_url = \"http://127.0.0.1:1\"\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&f.config, format!("{before}[queryd]{queryd}[{rest}")).unwrap();
    f.restart("queryd", false);
    let run = job(&f, "replay", &["run", "--prompt", prompt, "--dry-run"]).await;
    let mut fallback = JobRun::ok(&run)["planned"][0].clone();
    fallback.as_object_mut().unwrap().remove("timings_ms");
    assert_eq!(fallback, now, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot run vector_search"),
        "{}",
        run.stderr
    );

    let bad = job(
        &f,
        "replay",
        &[
            "run",
            "--prompt",
            prompt,
            "--dry-run",
            "--as-of",
            "99999999",
        ],
    )
    .await;
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    assert!(bad.stderr.contains("version_not_found"), "{}", bad.stderr);
}
