//! Whatever an add accepts, a restart reads back: items at every limit (the longest id, the
//! deepest metadata, the largest dimension, dot-segment ids, a megabyte of metadata) survive a
//! SIGKILL (replayed from the write log) and then a clean restart (loaded from the snapshot),
//! and the writes after them are not lost either. One step past a limit is a 400 that
//! changes nothing.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, wait_ready};
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

async fn post(api: &Api, path: &str, body: &Value) -> (StatusCode, Value) {
    let res = api
        .http
        .post(format!("{}/v1{path}", api.base))
        .bearer_auth(&api.token)
        .json(body)
        .send()
        .await
        .unwrap();
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

fn restart_vectord(f: &mut Fleet, kill: bool) {
    let p = f.proc("vectord");
    if kill {
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    } else {
        p.terminate();
        assert_eq!(p.wait_exit(Duration::from_secs(60)), Some(0));
    }
    let p = f.spawn("vectord");
    f.procs.retain(|(n, _)| *n != "vectord");
    f.procs.push(("vectord", p));
    wait_ready(&f.url("vectord"), Duration::from_secs(60));
}

async fn check(api: &Api, items: &[(String, Value)], ctx: &str) {
    let (_, v) = api.get("/vectors/index/edge").await;
    assert_eq!(v["length"], items.len() + 1, "{ctx}: {v}");
    for (id, meta) in items {
        let path: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
        let (st, v) = raw_get(api, &format!("/v1/vectors/index/edge/items/{path}")).await;
        assert_eq!(st, 200, "{ctx}: {}", &id[..id.len().min(20)]);
        assert_eq!(&v["metadata"], meta, "{ctx}");
    }
    let (_, v) = api.get("/vectors/index/edge/items/after").await;
    assert_eq!(
        v["metadata"],
        json!({"n": 2}),
        "{ctx}: the write after the extremes"
    );
}

/// A GET written byte for byte: HTTP client libraries resolve `%2E%2E` in a path before
/// sending it, so an item named `..` could not be asked for.
async fn raw_get(api: &Api, path: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = api.base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        api.token
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_extremes_of_every_limit_survive_sigkill() {
    let mut f = Fleet::new(Some(TOKEN), "save_delay_ms = 3600000\n");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let (st, v) = post(
        &api,
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
    let (st, v) = post(&api, "/vectors/index/edge/add", &json!({"items": body})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = post(
        &api,
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
        let (st, v) = post(
            &api,
            "/vectors/index/edge/add",
            &json!({"items": [{"id": "ok", "vector": unit(3)}, bad]}),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("items[1]") && m.contains(what), "{m}");
    }
    check(&api, &items, "before").await;
    restart_vectord(&mut f, true);
    check(&api, &items, "after SIGKILL (write log)").await;
    restart_vectord(&mut f, false);
    check(&api, &items, "after a clean restart (snapshot)").await;
}
