//! vectord end to end, through the gateway: every route of the contract with its validation,
//! persistence across restarts (graceful and SIGKILL), corrupt snapshots skipped and reported,
//! snapshots stored in parts, and deletes that leave nothing in storage.

// Test support: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_e2e::api::{Answer, Api};
use lakehouse_e2e::{Fleet, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "vector-token";

fn fleet(storage: Storage, vectord: &str) -> (Fleet, Api) {
    let mut f = Fleet::with(Some(TOKEN), storage, &[], vectord);
    f.start(&lakehouse_e2e::SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    (f, api)
}

async fn api_post(api: &Api, path: &str, body: Value) -> Answer {
    api.post(path, &body).await
}

async fn ok(api: &Api, path: &str, body: Value) -> Value {
    let (st, v) = api_post(api, path, body.clone()).await;
    assert!(st.is_success(), "{path} {body} → {st} {v}");
    v
}

fn ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// Points on a circle, so neighbours are known: item i is at angle i degrees.
fn circle(range: std::ops::Range<u32>) -> Vec<Value> {
    range
        .map(|i| {
            let a = (i as f32).to_radians();
            json!({"id": format!("p{i}"), "vector": [a.cos(), a.sin(), 0.5], "metadata": {"even": i % 2 == 0, "i": i}})
        })
        .collect()
}

fn at(deg: f32) -> Value {
    let a = deg.to_radians();
    json!([a.cos(), a.sin(), 0.5])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_and_its_validation() {
    let (_f, api) = fleet(Storage::Fs, "");
    // Create: defaults, conflicts, bad params.
    let (st, v) = api_post(&api, "/vectors/index", json!({"name": "c", "dimension": 3})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["params"],
        json!({"dimension": 3, "m": 16, "ef_construction": 200, "ef_search": 64, "distance": "cosine"})
    );
    assert_eq!(v["length"], 0);
    let (st, v) = api_post(&api, "/vectors/index", json!({"name": "c", "dimension": 3})).await;
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::CONFLICT, "index_exists"),
        "{v}"
    );
    for bad in [
        json!({"name": "", "dimension": 3}),
        json!({"name": "a/b", "dimension": 3}),
        json!({"name": ".x", "dimension": 3}),
        json!({"name": "d0", "dimension": 0}),
        json!({"name": "d1", "dimension": 4097}),
        json!({"name": "d2", "dimension": 3, "m": 1}),
        json!({"name": "d3", "dimension": 3, "ef_search": 0}),
        json!({"name": "d4", "dimension": 3, "distance": "manhattan"}),
        json!({"name": "d5", "dimension": 3, "top_k": 3}),
        json!({"dimension": 3}),
    ] {
        let (st, v) = api_post(&api, "/vectors/index", bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad} → {v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5, "{v}");
    }
    ok(
        &api,
        "/vectors/index",
        json!({"name": "e", "dimension": 3, "distance": "euclidean", "m": 4}),
    )
    .await;
    let (st, v) = api.get("/vectors/index").await;
    assert_eq!(
        (st, v.clone()),
        (StatusCode::OK, json!({"names": ["c", "e"], "count": 2})),
        "{v}"
    );

    // Search at sizes 0 to 3, then on a larger index: exact answers, min(k, live) results.
    for n in 0..4u32 {
        let v = ok(
            &api,
            "/vectors/index/c/search",
            json!({"vector": at(0.0), "k": 5}),
        )
        .await;
        let want = ["p0", "p1", "p2"];
        assert_eq!(ids(&v), want[..n as usize], "{v}");
        ok(
            &api,
            "/vectors/index/c/add",
            json!({"items": circle(n..n + 1)}),
        )
        .await;
    }
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": circle(4..360)}),
    )
    .await;
    let v = ok(
        &api,
        "/vectors/index/c/search",
        json!({"vector": at(100.2)}),
    )
    .await;
    assert_eq!(
        ids(&v),
        [
            "p100", "p101", "p99", "p102", "p98", "p103", "p97", "p104", "p96", "p105"
        ]
    );
    let d: Vec<f64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["distance"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]) && d[0] >= 0.0, "{d:?}");
    assert_eq!(v["results"][0]["metadata"], json!({"even": true, "i": 100}));
    // exclude_ids and filter act during the search.
    let v = ok(&api, "/vectors/index/c/search", json!({"vector": at(100.4), "k": 3, "exclude_ids": ["p100", "p101"], "filter": {"even": false}})).await;
    assert_eq!(ids(&v), ["p99", "p103", "p97"]);
    let v = ok(
        &api,
        "/vectors/index/c/search",
        json!({"vector": at(0.0), "k": 1000, "ef": 4096}),
    )
    .await;
    assert_eq!(ids(&v).len(), 360);
    for (bad, code) in [
        (json!({"vector": at(0.0), "k": 0}), "invalid_k"),
        (json!({"vector": at(0.0), "ef": 5000}), "invalid_ef"),
        (json!({"vector": [1.0, 0.0]}), "invalid_vector"),
        (json!({"vector": [0.0, 0.0, 0.0]}), "invalid_vector"),
        (json!({"vector": at(0.0), "filter": [1]}), "bad_request"),
        (json!({"vector": at(0.0), "topk": 3}), "bad_request"),
    ] {
        let (st, v) = api_post(&api, "/vectors/index/c/search", bad.clone()).await;
        assert_eq!(
            (st, error_code(&v)),
            (StatusCode::BAD_REQUEST, code),
            "{bad} → {v}"
        );
    }

    // Add is all-or-nothing and names the item; the last of repeated ids wins.
    for (bad, pos, why) in [
        (
            json!([{"id": "x", "vector": [1, 2, 3]}, {"id": "", "vector": [1, 2, 3]}]),
            "items[1]",
            "empty",
        ),
        (
            json!([{"id": "x", "vector": [1, 2, 3]}, {"id": "y", "vector": [1, 2]}]),
            "items[1]",
            "dimension",
        ),
        (
            json!([{"id": "x", "vector": [0, 0, 0]}]),
            "items[0]",
            "zero vector",
        ),
        (
            json!([{"id": "x", "vector": [1, 2, 3]}, {"id": "x", "vector": [1e39, 2, 3]}]),
            "items[1]",
            "infinity",
        ),
        (
            json!([{"id": "x", "vector": [1, 2, 3]}, {"id": "z", "vector": [1, 2, 3], "metadata": "m"}]),
            "items[1]",
            "invalid type",
        ),
        (
            json!([{"id": "x", "vector": [1, 2, 3], "meta": {}}]),
            "items[0]",
            "unknown field",
        ),
    ] {
        let (st, v) = api_post(&api, "/vectors/index/c/add", json!({"items": bad})).await;
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad} → {v}");
        assert!(msg.contains(pos) && msg.contains(why), "{bad} → {msg}");
    }
    let (_, v) = api.get("/vectors/index/c").await;
    assert_eq!(v["length"], 360, "a refused batch changed nothing: {v}");
    assert_eq!(
        api.get("/vectors/index/c/items/x").await.0,
        StatusCode::NOT_FOUND
    );
    // The contract: an add with no items is refused, and changes nothing.
    let (st, v) = api_post(&api, "/vectors/index/c/add", json!({"items": []})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["message"], "items must be non-empty");
    assert_eq!(api.get("/vectors/index/c").await.1["length"], 360);
    // k above the cap is served as the cap.
    let v = ok(
        &api,
        "/vectors/index/c/search",
        json!({"vector": at(0.0), "k": 5000}),
    )
    .await;
    assert_eq!(ids(&v).len(), 360);
    let v = ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": [
            {"id": "x", "vector": [1, 0, 0], "metadata": {"v": 1}},
            {"id": "x", "vector": [0, 1, 0], "metadata": {"v": 2}}
        ]}),
    )
    .await;
    assert_eq!(v, json!({"added": 1, "length": 361}));
    let (st, v) = api.get("/vectors/index/c/items/x").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v,
        json!({"id": "x", "vector": [0.0, 1.0, 0.0], "metadata": {"v": 2}})
    );
    // Omitted metadata keeps it, {} clears it; a new vector replaces the old one.
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": [{"id": "x", "vector": [0, 0, 2]}]}),
    )
    .await;
    let (_, v) = api.get("/vectors/index/c/items/x").await;
    assert_eq!(v["metadata"], json!({"v": 2}));
    assert_eq!(v["vector"], json!([0.0, 0.0, 1.0]));
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": [{"id": "x", "vector": [0, 0, 2], "metadata": {}}]}),
    )
    .await;
    assert_eq!(
        api.get("/vectors/index/c/items/x").await.1["metadata"],
        json!({})
    );
    let v = ok(
        &api,
        "/vectors/index/c/search",
        json!({"vector": [0, 1, 0], "k": 361}),
    )
    .await;
    assert_eq!(
        ids(&v).iter().filter(|i| *i == "x").count(),
        1,
        "the replaced vector is gone"
    );
    // An id with a slash and spaces round-trips through the path.
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": [{"id": "a/b c", "vector": [1, 1, 1]}]}),
    )
    .await;
    assert_eq!(
        api.get("/vectors/index/c/items/a%2Fb%20c").await.0,
        StatusCode::OK
    );

    // Delete items.
    let v = ok(
        &api,
        "/vectors/index/c/delete",
        json!({"ids": ["x", "p100", "nope", "a/b c"]}),
    )
    .await;
    assert_eq!(v, json!({"deleted": 3, "length": 359}));
    let v = ok(&api, "/vectors/index/c/delete", json!({"ids": ["x"]})).await;
    assert_eq!(v, json!({"deleted": 0, "length": 359}));
    let v = ok(
        &api,
        "/vectors/index/c/search",
        json!({"vector": at(100.0), "k": 2}),
    )
    .await;
    assert_eq!(ids(&v), ["p99", "p101"]);

    // Merge: validation, counts, clear_source.
    ok(
        &api,
        "/vectors/index",
        json!({"name": "dst", "dimension": 3}),
    )
    .await;
    ok(
        &api,
        "/vectors/index",
        json!({"name": "flat", "dimension": 2}),
    )
    .await;
    ok(
        &api,
        "/vectors/index/dst/add",
        json!({"items": circle(0..10)}),
    )
    .await;
    let (st, v) = api_post(&api, "/vectors/index/c/merge", json!({"dest": "c"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = api_post(&api, "/vectors/index/c/merge", json!({"dest": "flat"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = api_post(&api, "/vectors/index/c/merge", json!({"dest": "nowhere"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let v = ok(
        &api,
        "/vectors/index/c/merge",
        json!({"dest": "dst", "clear_source": true}),
    )
    .await;
    assert_eq!(
        v,
        json!({"merged": 349, "skipped_already_present": 10, "failed": 0, "length_dest": 359, "length_source": 0})
    );
    let v = ok(
        &api,
        "/vectors/index/dst/search",
        json!({"vector": at(200.0), "k": 1}),
    )
    .await;
    assert_eq!(ids(&v), ["p200"]);
    assert_eq!(v["results"][0]["metadata"], json!({"even": true, "i": 200}));

    // 404s and the body cap.
    for path in ["/vectors/index/none", "/vectors/index/c/items/none"] {
        let (st, v) = api.get(path).await;
        assert_eq!(
            (st, error_code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    for path in [
        "/vectors/index/none/add",
        "/vectors/index/none/search",
        "/vectors/index/none/delete",
    ] {
        let body = json!({"items": [], "vector": [1], "ids": []});
        let (st, _) = api_post(&api, path, body).await;
        assert!(
            st == StatusCode::NOT_FOUND || st == StatusCode::BAD_REQUEST,
            "{path} {st}"
        );
    }
    // A declared body over 64 MiB is refused before any of it is sent.
    let status = declared_body_status(&api.base, "/v1/vectors/index/c/add", (64 << 20) + 10).await;
    assert_eq!(status, 413);

    // Delete an index: 204, its objects gone, then 404.
    assert!(
        api.keys("_vectors/dst.")
            .await
            .iter()
            .any(|k| k == "_vectors/dst.lhv1")
    );
    assert_eq!(
        api.delete("/vectors/index/dst").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/vectors/index/dst").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.get("/vectors/index/dst").await.0, StatusCode::NOT_FOUND);
    let left: Vec<String> = api
        .keys("_vectors/")
        .await
        .into_iter()
        .filter(|k| k.starts_with("_vectors/dst."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let (st, _) = api_post(
        &api,
        "/vectors/index/dst/search",
        json!({"vector": at(0.0)}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// The status of a POST that declares `len` body bytes and sends none.
async fn declared_body_status(base: &str, path: &str, len: u64) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).await.unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

async fn metric(f: &Fleet, name: &str, index: &str) -> Option<f64> {
    f.metric("vectord", TOKEN, &format!("{name}{{index=\"{index}\"}}"))
        .await
}

async fn survives_sigkill_then_a_clean_restart(storage: Storage) {
    // Snapshots wait an hour: everything after creation lives only in the write log.
    let (mut f, api) = fleet(storage, "save_delay_ms = 3600000\n");
    ok(&api, "/vectors/index", json!({"name": "k", "dimension": 3})).await;
    for start in (0..3000).step_by(500) {
        ok(
            &api,
            "/vectors/index/k/add",
            json!({"items": circle(start..start + 500)}),
        )
        .await;
    }
    ok(
        &api,
        "/vectors/index/k/delete",
        json!({"ids": ["p7", "p2999"]}),
    )
    .await;
    ok(
        &api,
        "/vectors/index/k/add",
        json!({"items": [{"id": "p8", "vector": [0, 0, 1], "metadata": {"moved": true}}]}),
    )
    .await;
    let before = ok(
        &api,
        "/vectors/index/k/search",
        json!({"vector": at(10.0), "k": 20}),
    )
    .await;
    assert_eq!(
        metric(&f, "lakehouse_vector_log_records", "k").await,
        Some(8.0)
    );

    f.restart("vectord", true);
    let (_, v) = api.get("/vectors/index/k").await;
    assert_eq!(v["length"], 2998, "{v}");
    assert_eq!(
        api.get("/vectors/index/k/items/p7").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/vectors/index/k/items/p8").await.1["metadata"],
        json!({"moved": true})
    );
    for i in [0, 1234, 2998] {
        assert_eq!(
            api.get(&format!("/vectors/index/k/items/p{i}")).await.0,
            StatusCode::OK,
            "p{i}"
        );
    }
    let after = ok(
        &api,
        "/vectors/index/k/search",
        json!({"vector": at(10.0), "k": 20}),
    )
    .await;
    assert_eq!(ids(&after), ids(&before));
    // The replayed log stays until a snapshot covers it; a clean stop writes one.
    assert_eq!(
        metric(&f, "lakehouse_vector_log_records", "k").await,
        Some(8.0)
    );
    f.restart("vectord", false);
    let logs: Vec<String> = api.keys("_vectors/k.wal/").await;
    assert!(
        logs.is_empty(),
        "the shutdown snapshot covers the log: {logs:?}"
    );
    assert_eq!(
        metric(&f, "lakehouse_vector_log_records", "k").await,
        Some(0.0)
    );
    let again = ok(
        &api,
        "/vectors/index/k/search",
        json!({"vector": at(10.0), "k": 20}),
    )
    .await;
    assert_eq!(again, after);
    // Writes after the reload continue the log where the snapshot left it.
    ok(&api, "/vectors/index/k/delete", json!({"ids": ["p0"]})).await;
    f.restart("vectord", true);
    assert_eq!(api.get("/vectors/index/k").await.1["length"], 2997);

    // Writers at once: they share log records (group commit), each keeps its own answer,
    // and every acknowledged one survives a SIGKILL.
    let writes = (0..40u32).map(|i| {
        let api = api.clone();
        async move {
            if i % 4 == 3 {
                api_post(
                    &api,
                    "/vectors/index/k/delete",
                    json!({"ids": [format!("p{i}")]}),
                )
                .await
            } else {
                api_post(
                    &api,
                    "/vectors/index/k/add",
                    json!({"items": [{"id": format!("c{i}"), "vector": at(i as f32)}]}),
                )
                .await
            }
        }
    });
    for (i, (status, body)) in futures::future::join_all(writes)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, StatusCode::OK, "write {i}: {body}");
        let changed = if i % 4 == 3 { "deleted" } else { "added" };
        // p7 went before; every other id exists once.
        let want = u64::from(i != 7);
        assert_eq!(body[changed].as_u64(), Some(want), "write {i}: {body}");
    }
    let records = metric(&f, "lakehouse_vector_log_records", "k")
        .await
        .unwrap();
    assert!((1.0..=40.0).contains(&records), "{records}");
    f.restart("vectord", true);
    assert_eq!(api.get("/vectors/index/k").await.1["length"], 2997 - 9 + 30);
    for i in 0..40u32 {
        let (path, want) = if i % 4 == 3 {
            (
                format!("/vectors/index/k/items/p{i}"),
                StatusCode::NOT_FOUND,
            )
        } else {
            (format!("/vectors/index/k/items/c{i}"), StatusCode::OK)
        };
        assert_eq!(api.get(&path).await.0, want, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill_on_fs() {
    survives_sigkill_then_a_clean_restart(Storage::Fs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill_on_s3() {
    survives_sigkill_then_a_clean_restart(Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_save_in_background_in_parts_and_corrupt_ones_are_reported() {
    // 1 MiB parts: a 2,000 × 256 index (2 MB of floats) is stored in several.
    let (mut f, api) = fleet(Storage::Fs, "save_delay_ms = 50\nsnapshot_part_mb = 1\n");
    ok(
        &api,
        "/vectors/index",
        json!({"name": "big", "dimension": 256, "distance": "euclidean"}),
    )
    .await;
    let items: Vec<Value> = (0..2000)
        .map(|i| json!({"id": format!("v{i}"), "vector": (0..256).map(|j| ((i * 31 + j * 7) % 97) as f32).collect::<Vec<_>>()}))
        .collect();
    ok(&api, "/vectors/index/big/add", json!({"items": items})).await;
    let want = ok(
        &api,
        "/vectors/index/big/search",
        json!({"vector": vec![3.0; 256], "k": 7}),
    )
    .await;
    // The background save covers the log and then deletes it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !api.keys("_vectors/big.wal/").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "log never covered by a snapshot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parts = api.keys("_vectors/big.parts/").await;
    assert!(parts.len() >= 2, "{parts:?}");

    // A damaged snapshot is skipped and reported; the others load.
    ok(
        &api,
        "/vectors/index",
        json!({"name": "bad", "dimension": 2}),
    )
    .await;
    ok(
        &api,
        "/vectors/index/bad/add",
        json!({"items": [{"id": "a", "vector": [1, 2]}]}),
    )
    .await;
    f.restart("vectord", false);
    let res = api
        .http
        .put(format!("{}/v1/storage/objects/_vectors/bad.lhv1", api.base))
        .bearer_auth(TOKEN)
        .body(b"LHV1 this is not an index".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    f.restart("vectord", true);
    let ready: Value = reqwest::get(format!("{}/ready", f.url("vectord")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = ready.to_string();
    assert!(text.contains("index 'bad': snapshot skipped"), "{text}");
    assert_eq!(api.get("/vectors/index/bad").await.0, StatusCode::NOT_FOUND);
    let got = ok(
        &api,
        "/vectors/index/big/search",
        json!({"vector": vec![3.0; 256], "k": 7}),
    )
    .await;
    assert_eq!(got, want);
    // Creating the name again replaces the damaged object and clears the report.
    ok(
        &api,
        "/vectors/index",
        json!({"name": "bad", "dimension": 2}),
    )
    .await;
    let ready: Value = reqwest::get(format!("{}/ready", f.url("vectord")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!ready.to_string().contains("'bad'"), "{ready}");
    assert!(metric(&f, "lakehouse_vectors", "big").await == Some(2000.0));
    // A snapshot with a part missing is skipped and reported too, never a start that hangs.
    let parts = api.keys("_vectors/big.parts/").await;
    assert_eq!(
        api.delete(&format!("/storage/objects/{}", parts[1]))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    f.restart("vectord", true);
    let ready: Value = reqwest::get(format!("{}/ready", f.url("vectord")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready.to_string().contains("index 'big': snapshot skipped"),
        "{ready}"
    );
    assert_eq!(api.get("/vectors/index/big").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/vectors/index/bad").await.0, StatusCode::OK);
}
