//! 1,000 damaged objects in vectord's storage — 500 truncated or bit-flipped snapshots and 500
//! damaged log records past valid snapshots — load as "skipped and reported": vectord starts,
//! answers `/ready` with one warning each, serves every index it could load, and never panics
//! or hangs.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, wait_ready};
use serde_json::{Value, json};

const TOKEN: &str = "vector-damage-token";
const EACH: usize = 500;

/// Truncated (even `i`) or one bit flipped (odd `i`), chosen by a small LCG.
fn damaged(good: &[u8], i: usize, state: &mut u64) -> Vec<u8> {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let at = (*state >> 33) as usize % good.len();
    if i.is_multiple_of(2) {
        good[..at].to_vec()
    } else {
        let mut b = good.to_vec();
        b[at] ^= 1 << ((*state >> 20) % 8);
        b
    }
}

async fn post(api: &Api, path: &str, body: Value) -> Value {
    let (st, v) = api.post(path, &body).await;
    assert!(st.is_success(), "{path}: {st} {v}");
    v
}

async fn storage_get(http: &reqwest::Client, base: &str, key: &str) -> Vec<u8> {
    let r = http
        .get(format!("{base}/storage/objects/{key}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{key}");
    r.bytes().await.unwrap().to_vec()
}

async fn storage_put(http: &reqwest::Client, base: &str, key: &str, body: Vec<u8>) {
    let r = http
        .put(format!("{base}/storage/objects/{key}"))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{key}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_damaged_objects_are_skipped_and_reported() {
    let mut f = Fleet::new(Some(TOKEN), "save_delay_ms = 3600000\n");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let http = reqwest::Client::new();
    let st = f.url("storaged");
    post(
        &api,
        "/vectors/index",
        json!({"name": "good", "dimension": 8}),
    )
    .await;
    let items: Vec<Value> = (0..300)
        .map(|i| json!({"id": format!("i{i}"), "vector": (0..8).map(|d| ((i * 7 + d * 3) % 11) as f32 + 0.5).collect::<Vec<_>>(), "metadata": {"i": i}}))
        .collect();
    post(&api, "/vectors/index/good/add", json!({"items": items})).await;
    let record = storage_get(&http, &st, "_vectors/good.wal/00000000000000000001").await;
    // A clean stop saves the snapshot (covering the record) and removes the log.
    f.stop("vectord", false);
    let snapshot = storage_get(&http, &st, "_vectors/good.lhv1").await;
    assert!(
        snapshot.starts_with(b"LHV1"),
        "the snapshot is one object, not parts"
    );

    let mut state = 0x5eed_u64;
    for i in 0..EACH {
        storage_put(
            &http,
            &st,
            &format!("_vectors/s{i}.lhv1"),
            damaged(&snapshot, i, &mut state),
        )
        .await;
        storage_put(&http, &st, &format!("_vectors/l{i}.lhv1"), snapshot.clone()).await;
        let bad = damaged(&record, i, &mut state);
        storage_put(
            &http,
            &st,
            &format!("_vectors/l{i}.wal/00000000000000000002"),
            bad,
        )
        .await;
    }

    let started = Instant::now();
    f.respawn("vectord");
    wait_ready(&f.url("vectord"), Duration::from_secs(120));
    let took = started.elapsed();
    let ready: Value = http
        .get(format!("{}/ready", f.url("vectord")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warnings: Vec<String> = ready["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    let snapshots = warnings
        .iter()
        .filter(|w| w.contains("snapshot skipped"))
        .count();
    let records = warnings
        .iter()
        .filter(|w| w.contains("log record") && w.contains("not replayed"))
        .count();
    assert_eq!((snapshots, records), (EACH, EACH), "{warnings:?}");
    eprintln!(
        "vectord loaded past {} damaged objects in {took:?}",
        2 * EACH
    );

    // Every index with a good snapshot is served, as of that snapshot.
    let (_, v) = api.get("/vectors/index").await;
    assert_eq!(v["count"], EACH + 1, "{v}");
    for name in ["good", "l0", "l1", "l499"] {
        let (_, info) = api.get(&format!("/vectors/index/{name}")).await;
        assert_eq!(info["length"], 300, "{name}: {info}");
    }
    let hits = post(
        &api,
        "/vectors/index/l7/search",
        json!({"vector": [1, 2, 3, 4, 5, 6, 7, 8], "k": 3}),
    )
    .await;
    assert_eq!(hits["results"].as_array().unwrap().len(), 3);
    assert!(
        f.proc("vectord").child.try_wait().unwrap().is_none(),
        "vectord exited"
    );
}
