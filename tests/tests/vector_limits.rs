//! Whatever an add accepts, a restart reads back: items at every limit (the longest id, the
//! deepest metadata, the largest dimension, dot-segment ids, a megabyte of metadata) survive a
//! SIGKILL (replayed from the write log) and then a clean restart (loaded from the snapshot),
//! and the writes after them are not lost either. One step past a limit is a 400 that
//! changes nothing.

#![allow(clippy::unwrap_used)]

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "vector-limits-token";
const DEPTH: usize = 64;
const ID_BYTES: usize = 1024;
const DIMENSION: usize = 4096;

fn nested(depth: usize) -> Value {
    let mut v = json!(true);
    for level in (2..=depth).rev() {
        v = if level % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    json!({ "k": v })
}

fn unit(at: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; DIMENSION];
    v[at % DIMENSION] = 1.0;
    v
}

async fn check(api: &Api, items: &[(String, Value)], ctx: &str) {
    let (_, v) = api.get("/vectors/index/edge").await;
    assert_eq!(v["length"], items.len() + 1, "{ctx}: {v}");
    for (id, meta) in items {
        let path: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
        // Sent as written: a client library would resolve the escaped `..` itself.
        let (st, body) = api
            .raw("GET", &format!("/v1/vectors/index/edge/items/{path}"), b"")
            .await;
        assert_eq!(st, 200, "{ctx}: {}", &id[..id.len().min(20)]);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(&v["metadata"], meta, "{ctx}");
    }
    let (_, v) = api.get("/vectors/index/edge/items/after").await;
    assert_eq!(
        v["metadata"],
        json!({"n": 2}),
        "{ctx}: the write after the extremes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_extremes_of_every_limit_survive_sigkill() {
    let mut f = Fleet::new(Some(TOKEN), "save_delay_ms = 3600000\n");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let (st, v) = api
        .post(
            "/vectors/index",
            &json!({"name": "edge", "dimension": DIMENSION}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let items: Vec<(String, Value)> = vec![
        ("é".repeat(ID_BYTES / 2), nested(DEPTH)),
        ("..".into(), json!({"big": "m".repeat(1 << 20)})),
        (".".into(), json!({})),
        ("a/b?c#d%e".into(), json!({"n": null})),
    ];
    let body: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (id, meta))| json!({"id": id, "vector": unit(i), "metadata": meta}))
        .collect();
    let (st, v) = api
        .post("/vectors/index/edge/add", &json!({"items": body}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = api
        .post(
            "/vectors/index/edge/add",
            &json!({"items": [{"id": "after", "vector": unit(9), "metadata": {"n": 2}}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // One past each limit: refused, naming the item, nothing changed.
    for (bad, what) in [
        (
            json!({"id": "x", "vector": unit(1), "metadata": nested(DEPTH + 1)}),
            "metadata nests",
        ),
        (
            json!({"id": "x".repeat(ID_BYTES + 1), "vector": unit(1)}),
            "id is longer",
        ),
        (
            json!({"id": "x", "vector": vec![1.0; DIMENSION + 1]}),
            "dimension",
        ),
    ] {
        let (st, v) = api
            .post(
                "/vectors/index/edge/add",
                &json!({"items": [{"id": "ok", "vector": unit(3)}, bad]}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("items[1]") && m.contains(what), "{m}");
    }
    check(&api, &items, "before").await;
    f.restart("vectord", true);
    check(&api, &items, "after SIGKILL (write log)").await;
    f.restart("vectord", false);
    check(&api, &items, "after a clean restart (snapshot)").await;
}
