//! Versions through the real binaries: SQL as of a catalog version or time, rollback through
//! the gateway, garbage collection, and catalogd killed (SIGKILL) again and again in the
//! middle of commits and collections without losing an acknowledged write or a referenced
//! object.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage, wait_ready};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-versions-token";

fn rows(csv_from: u64, n: u64) -> String {
    let mut s = String::from("id,label\n");
    for i in csv_from..csv_from + n {
        s.push_str(&format!("{i},row{i}\n"));
    }
    s
}

async fn count(api: &Api, table: &str, as_of: Option<Value>) -> (StatusCode, Value) {
    let mut body = json!({"sql": format!("SELECT count(*) AS n FROM {table}")});
    if let Some(a) = as_of {
        body["as_of"] = a;
    }
    api.sql_with(body).await
}

fn n(v: &Value) -> u64 {
    v["rows"][0]["n"].as_u64().unwrap()
}

#[tokio::test]
async fn sql_reads_any_retained_version_and_names_the_one_it_read() {
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[(
            "catalogd",
            "keep_versions = 1\nkeep_days = 0\ngc_interval_minutes = 0\ngc_grace_seconds = 0",
        )],
        "",
    );
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);

    let (st, first) = api.ingest("name=t", rows(0, 10)).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let v1 = first["catalog_version"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (st, second) = api.ingest("name=t&mode=replace", rows(100, 5)).await;
    assert_eq!(st, StatusCode::OK, "{second}");
    let v2 = second["catalog_version"].as_u64().unwrap();
    let (_, later) = api.ingest("name=u", rows(0, 3)).await;
    let v3 = later["catalog_version"].as_u64().unwrap();

    // Now, with the version named in the body and in a header.
    let res = api
        .sql_raw(json!({"sql": "SELECT count(*) AS n FROM t"}))
        .await;
    assert_eq!(
        res.headers()["x-lakehouse-catalog-version"]
            .to_str()
            .unwrap(),
        v3.to_string()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!((n(&body), body["catalog_version"].as_u64()), (5, Some(v3)));

    // As of v1 by number and by time; the answer names v1.
    let (st, then) = count(&api, "t", Some(json!(v1))).await;
    assert_eq!(st, StatusCode::OK, "{then}");
    assert_eq!((n(&then), then["catalog_version"].as_u64()), (10, Some(v1)));
    let (_, then) = count(&api, "t", Some(json!(between))).await;
    assert_eq!((n(&then), then["catalog_version"].as_u64()), (10, Some(v1)));
    let (_, mid) = count(&api, "t", Some(json!(v2))).await;
    assert_eq!(n(&mid), 5);
    // A join across both datasets at one version reads both as they were.
    let (st, joined) = api
        .sql_with(json!({"sql": "SELECT count(*) AS n FROM t JOIN u USING (id)", "as_of": v3}))
        .await;
    assert_eq!((st, n(&joined)), (StatusCode::OK, 0), "{joined}");
    // The shared views were not touched: a current query right after still sees now.
    assert_eq!(n(&count(&api, "t", None).await.1), 5);

    // A dataset that did not exist then; versions that never existed; malformed as_of.
    let (st, e) = count(&api, "u", Some(json!(v1))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not exist at catalog version"),
        "{e}"
    );
    for (as_of, status, code) in [
        (json!(v3 + 1000), StatusCode::NOT_FOUND, "version_not_found"),
        (
            json!("not a time"),
            StatusCode::BAD_REQUEST,
            "invalid_as_of",
        ),
        (
            json!("1999-01-01T00:00:00Z"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (json!(-1), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"v": 1}), StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let (st, e) = count(&api, "t", Some(as_of.clone())).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{as_of}: {e}"
        );
    }

    // A wrong replace is undone by a rollback, as a new commit.
    let (st, back) = api
        .post("/catalog/manifest/t/rollback", &json!({"version": v1}))
        .await;
    assert_eq!(st, StatusCode::OK, "{back}");
    assert_eq!(n(&count(&api, "t", None).await.1), 10);
    let v4 = back["catalog_version"].as_u64().unwrap();
    assert!(v4 > v3);

    // Retention keeps one snapshot here: the collection expires v1 and v2 of t and deletes
    // the replaced object, never the one the rollback points at again.
    let before = api.data_keys("datasets/t/").await;
    assert_eq!(before.len(), 2, "{before:?}");
    let (st, r) = api.post("/catalog/gc", &json!({})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // The replaced object, and the expired snapshots' Iceberg files.
    assert!(r["objects_deleted"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(
        api.data_keys("datasets/t/").await,
        [first["object_key"].as_str().unwrap()]
    );
    assert_eq!(n(&count(&api, "t", None).await.1), 10);
    let (st, e) = count(&api, "t", Some(json!(v2))).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::GONE, Some("version_expired")),
        "{e}"
    );
    // u's one snapshot is retained, so u still reads at v3.
    assert_eq!(n(&count(&api, "u", Some(json!(v3))).await.1), 3);
}

/// The state a checker compares after each kill: every acknowledged object is in its
/// dataset, and every object a retained snapshot references still exists.
async fn check(api: &Api, acked: &BTreeSet<String>) {
    let (st, list) = api.get("/catalog/list").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let mut current = BTreeSet::new();
    for m in list["manifests"].as_array().unwrap() {
        for o in m["objects"].as_array().unwrap() {
            current.insert(o["key"].as_str().unwrap().to_owned());
        }
    }
    let missing: Vec<_> = acked.difference(&current).collect();
    assert!(missing.is_empty(), "acknowledged appends lost: {missing:?}");
    let stored: BTreeSet<String> = api.keys("datasets/").await.into_iter().collect();
    for m in list["manifests"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let (_, h) = api.get(&format!("/catalog/manifest/{name}/history")).await;
        for s in h["snapshots"].as_array().unwrap() {
            if s["exists"] == false {
                continue;
            }
            let v = s["version"].as_u64().unwrap();
            let (st, then) = api
                .get(&format!("/catalog/manifest/{name}?version={v}"))
                .await;
            assert_eq!(st, StatusCode::OK, "{then}");
            for o in then["objects"].as_array().unwrap() {
                let k = o["key"].as_str().unwrap();
                assert!(
                    stored.contains(k),
                    "{name}@{v} references {k}, which was deleted"
                );
            }
        }
    }
    // Every table loads, and what its metadata names is in storage.
    for m in list["manifests"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let (st, t) = api
            .get(&format!("/iceberg/v1/namespaces/lakehouse/tables/{name}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{t}");
        let location = t["metadata"]["location"].as_str().unwrap();
        let root = location.strip_suffix(&format!("/datasets/{name}")).unwrap();
        let stored: BTreeSet<String> = api
            .keys(&format!("datasets/{name}/metadata/"))
            .await
            .into_iter()
            .collect();
        for s in t["metadata"]["snapshots"].as_array().unwrap() {
            let list = s["manifest-list"].as_str().unwrap();
            let key = list.strip_prefix(root).unwrap().trim_start_matches('/');
            assert!(stored.contains(key), "{name}: {key} is named but missing");
        }
    }
    let (_, log) = api.get("/catalog/log?limit=1000").await;
    let versions: Vec<u64> = log["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_u64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "two commits share a version: {versions:?}"
    );
}

#[tokio::test]
async fn catalogd_killed_during_commits_and_collections_loses_nothing() {
    let cycles: usize = std::env::var("LAKEHOUSE_CATALOG_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[(
            "catalogd",
            "keep_versions = 2\nkeep_days = 0\ngc_interval_minutes = 0\ngc_grace_seconds = 1\ncheckpoint_every = 7",
        )],
        "",
    );
    f.start(&SERVERS);
    let api = Arc::new(Api::new(&f.url("gateway"), TOKEN));
    let mut acked = BTreeSet::new();
    let mut collected = 0;
    let mut window: u64 = 600;
    let next = Arc::new(AtomicU64::new(0));
    let schema = json!([{"name": "id", "type": "BIGINT"}]);
    for cycle in 0..cycles {
        // Writers: append to three datasets and replace a fourth, acknowledging what landed.
        let mut writers = Vec::new();
        for w in 0..4 {
            let (api, next, schema) = (api.clone(), next.clone(), schema.clone());
            writers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let name = format!("d{w}");
                    let key = format!("datasets/{name}/{i}.parquet");
                    api.put(&key, format!("object {i}")).await;
                    let (path, body) = if w == 3 {
                        ("/catalog/register", json!({"name": name, "schema_fingerprint": "fp",
                            "schema": schema, "objects": [{"key": key, "size": 8, "row_count": 1}]}))
                    } else {
                        ("/catalog/append", json!({"name": name, "schema_fingerprint": "fp",
                            "schema": schema, "create": true,
                            "objects": [{"key": key, "size": 8, "row_count": 1}]}))
                    };
                    match api.post(path, &body).await {
                        (st, _) if st.is_success() => {
                            if w != 3 {
                                mine.push(key);
                            }
                        }
                        // catalogd is down or restarting: the outcome of this one is not
                        // acknowledged, so it is not checked.
                        _ => return mine,
                    }
                }
            }));
        }
        let collector = {
            let api = api.clone();
            tokio::spawn(async move {
                let mut deleted = 0;
                loop {
                    match api.post("/catalog/gc", &json!({})).await {
                        (st, r) if st.is_success() => {
                            deleted += r["objects_deleted"].as_u64().unwrap();
                        }
                        _ => return deleted,
                    }
                }
            })
        };
        // From early in a collection to well after one. How long one takes depends on the
        // load (more so on a shared machine): while no collection has finished, the window
        // doubles, so kills keep landing both inside collections and after them.
        let delay = 20 + (cycle as u64 * 97) % window;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        f.stop("catalogd", true);
        for w in writers {
            acked.extend(w.await.unwrap());
        }
        let this_cycle = collector.await.unwrap();
        if collected + this_cycle == 0 {
            window = (window * 2).min(8_000);
        }
        collected += this_cycle;
        f.respawn("catalogd");
        wait_ready(&f.url("catalogd"), Duration::from_secs(60));
        check(&api, &acked).await;
    }
    assert!(
        acked.len() > cycles,
        "too few writes landed to mean anything: {}",
        acked.len()
    );
    assert!(
        collected > 0,
        "no collection deleted anything: the kills never met one at work"
    );
    eprintln!(
        "{cycles} kills: {} acknowledged appends kept, {collected} objects collected",
        acked.len()
    );
}

async fn search(api: &Api, body: Value) -> (StatusCode, Value) {
    api.post("/vectors/index/docs/search", &body).await
}

#[tokio::test]
async fn vector_search_as_of_a_commit_answers_as_it_did_then() {
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[(
            "catalogd",
            "keep_versions = 1\nkeep_days = 0\ngc_interval_minutes = 0\ngc_grace_seconds = 0",
        )],
        "",
    );
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    // A commit before the index's first, so a version exists at which it had none.
    assert_eq!(api.ingest("name=first", "id\n1\n").await.0, StatusCode::OK);
    api.post("/vectors/index", &json!({"name": "docs", "dimension": 3}))
        .await;
    let items = json!({"items": [
        {"id": "a", "vector": [1, 0, 0], "metadata": {"lang": "en"}},
        {"id": "b", "vector": [0.8, 0.6, 0], "metadata": {"lang": "fr"}},
        {"id": "c", "vector": [0, 1, 0], "metadata": {"lang": "en"}},
        {"id": "e", "vector": [0, 0, 1], "metadata": {"lang": "en"}}
    ]});
    assert_eq!(
        api.post("/vectors/index/docs/add", &items).await.0,
        StatusCode::OK
    );
    let q = json!({"vector": [1.0, 0.1, 0.0], "k": 3});
    let fq = json!({"vector": [1.0, 0.1, 0.0], "k": 3, "filter": {"lang": "en"}});
    let then = search(&api, q.clone()).await.1["results"].clone();
    let then_filtered = search(&api, fq.clone()).await.1["results"].clone();
    let (st, c1) = api.post("/vectors/index/docs/commit", &json!({})).await;
    assert_eq!(st, StatusCode::OK, "{c1}");
    let v1 = c1["version"].as_u64().unwrap();
    assert_eq!(c1["items"], 4);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();

    // The index moves on: a closer item, a delete, new metadata.
    api.post(
        "/vectors/index/docs/add",
        &json!({"items": [{"id": "d", "vector": [1, 0.1, 0]}, {"id": "c", "vector": [0, 1, 0], "metadata": {"lang": "de"}}]}),
    )
    .await;
    api.post("/vectors/index/docs/delete", &json!({"ids": ["a"]}))
        .await;
    let now = search(&api, q.clone()).await.1["results"].clone();
    assert_ne!(now, then);

    let at = |mut body: Value, as_of: Value| {
        body["as_of"] = as_of;
        body
    };
    let (st, old) = search(&api, at(q.clone(), json!(v1))).await;
    assert_eq!(st, StatusCode::OK, "{old}");
    assert_eq!(
        old["results"], then,
        "as of v{v1} the same ids in the same order"
    );
    assert_eq!(old["catalog_version"], v1);
    assert_eq!(
        search(&api, at(fq.clone(), json!(v1))).await.1["results"],
        then_filtered
    );
    assert_eq!(
        search(&api, at(q.clone(), json!(between))).await.1["results"],
        then
    );
    assert_eq!(
        search(&api, q.clone()).await.1["results"],
        now,
        "current searches unchanged"
    );

    // From storage alone, after vectord is killed.
    f.restart("vectord", true);
    let api = Api::new(&f.url("gateway"), TOKEN);
    assert_eq!(
        search(&api, at(q.clone(), json!(v1))).await.1["results"],
        then
    );

    for (as_of, status, code) in [
        (json!(v1 + 1000), StatusCode::NOT_FOUND, "version_not_found"),
        (json!(v1 - 1), StatusCode::NOT_FOUND, "not_committed"),
        (json!("whenever"), StatusCode::BAD_REQUEST, "invalid_as_of"),
    ] {
        let (st, e) = search(&api, at(q.clone(), as_of.clone())).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{as_of}: {e}"
        );
    }

    // A second commit; retention keeps one, so v1's state is dropped and collected.
    let (_, c2) = api.post("/vectors/index/docs/commit", &json!({})).await;
    let v2 = c2["version"].as_u64().unwrap();
    assert_eq!(
        search(&api, at(q.clone(), json!(v2))).await.1["results"],
        now
    );
    let (st, r) = api.post("/catalog/gc", &json!({})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let states = api.keys("_vectors/docs.commits/").await;
    assert_eq!(states, [c2["key"].as_str().unwrap()], "{r}");
    let (st, e) = search(&api, at(q.clone(), json!(v1))).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::GONE, Some("version_expired")),
        "{e}"
    );
}
