//! Versions over HTTP: reads as of a version or time, history, rollback, preconditions, the
//! commit log and garbage collection, on a real catalogd over a real storaged (fs).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn reg(name: &str, keys: &[&str]) -> Value {
    json!({"name": name, "schema_fingerprint": "fp", "schema": schema(),
        "objects": keys.iter().map(|k| obj(k, 2)).collect::<Vec<_>>()})
}

fn code(e: &Value) -> &str {
    e["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn reads_as_of_history_and_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Api::new(&catalogd(&s).await);
    api.wait_ready().await;
    let (_, m1) = api
        .post("/catalog/register", reg("s", &["datasets/s/a.parquet"]))
        .await;
    let v1 = m1["catalog_version"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (_, m2) = api
        .post("/catalog/register", reg("s", &["datasets/s/b.parquet"]))
        .await;
    let v2 = m2["catalog_version"].as_u64().unwrap();
    assert!(v2 > v1);

    let (st, then) = api.get(&format!("/catalog/manifest/s?version={v1}")).await;
    assert_eq!(st, StatusCode::OK, "{then}");
    assert_eq!(then["objects"][0]["key"], "datasets/s/a.parquet");
    let (st, then) = api.get(&format!("/catalog/manifest/s?at={between}")).await;
    assert_eq!(
        (st, then["catalog_version"].as_u64()),
        (StatusCode::OK, Some(v1)),
        "{then}"
    );
    let (_, at) = api.get(&format!("/catalog/version?at={between}")).await;
    assert_eq!(at["version"], v1);
    let (st, l) = api.get(&format!("/catalog/list?version={v1}")).await;
    assert_eq!(
        (st, l["version"].as_u64(), l["count"].as_u64()),
        (StatusCode::OK, Some(v1), Some(1))
    );

    for (path, status, want) in [
        (
            format!("/catalog/manifest/s?version={}", v2 + 100),
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
        (
            "/catalog/manifest/s?version=0".into(),
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
        (
            "/catalog/manifest/s?version=abc".into(),
            StatusCode::BAD_REQUEST,
            "invalid_as_of",
        ),
        (
            "/catalog/manifest/s?version=-1".into(),
            StatusCode::BAD_REQUEST,
            "invalid_as_of",
        ),
        (
            format!("/catalog/manifest/s?version={v1}&at={between}"),
            StatusCode::BAD_REQUEST,
            "invalid_as_of",
        ),
        (
            "/catalog/manifest/s?at=tuesday".into(),
            StatusCode::BAD_REQUEST,
            "invalid_as_of",
        ),
        (
            "/catalog/manifest/s?at=2001-01-01T00:00:00Z".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/catalog/manifest/nope?version={v1}"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/catalog/manifest/nope/history".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/catalog/log?limit=0".into(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/catalog/log?after=x".into(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let (st, e) = api.get(&path).await;
        assert_eq!((st, code(&e)), (status, want), "{path}: {e}");
    }

    let (_, h) = api.get("/catalog/manifest/s/history").await;
    let snaps = h["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(
        (snaps[0]["op"].as_str(), snaps[0]["parent"].as_u64()),
        (Some("replace"), Some(v1))
    );

    // Rollback: a new commit with the old state.
    let before = api.version().await;
    let (st, r) = api
        .post("/catalog/manifest/s/rollback", json!({"version": v1}))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["objects"], then["objects"]);
    assert_eq!(r["catalog_version"].as_u64(), Some(before + 1));
    for (body, status, want) in [
        (
            json!({"version": v2 + 100}),
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "bad_request"),
        (
            json!({"version": "one"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let (st, e) = api.post("/catalog/manifest/s/rollback", body.clone()).await;
        assert_eq!((st, code(&e)), (status, want), "{body}: {e}");
    }
    api.post("/catalog/register", reg("t", &["datasets/t/a.parquet"]))
        .await;
    let (st, e) = api
        .post("/catalog/manifest/t/rollback", json!({"version": v1}))
        .await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::CONFLICT, "not_at_version"),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("'t'"),
        "{e}"
    );

    // The log lists every commit with its request id, a page at a time.
    let (_, log) = api.get("/catalog/log?after=0&limit=2").await;
    assert_eq!(log["commits"].as_array().unwrap().len(), 2);
    let next = log["next_after"].as_u64().unwrap();
    let (_, rest) = api
        .get(&format!("/catalog/log?after={next}&limit=1000"))
        .await;
    let all = 2 + rest["commits"].as_array().unwrap().len();
    assert_eq!(all, 4, "{log} {rest}");
    assert!(rest["next_after"].is_null());
    assert_eq!(rest["commits"][0]["changes"][0]["op"], "rollback");
    assert!(
        rest["commits"][0]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
}

#[tokio::test]
async fn stale_preconditions_get_409_with_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Api::new(&catalogd(&s).await);
    api.wait_ready().await;
    let mut create = reg("s", &["datasets/s/a.parquet"]);
    create["expected_version"] = json!(0);
    let (st, m) = api.post("/catalog/register", create.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let v = m["catalog_version"].as_u64().unwrap();
    let (st, e) = api.post("/catalog/register", create).await;
    assert_eq!((st, code(&e)), (StatusCode::CONFLICT, "version_conflict"));
    assert_eq!(e["error"]["current_version"], v);

    // The ETag of a read is the If-Match of the next write.
    let res = api
        .http
        .get(format!("{}/catalog/manifest/s", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(tag, format!("\"{v}\""));
    let append = json!({"name": "s", "schema_fingerprint": "fp", "objects": [obj("datasets/s/b.parquet", 1)]});
    let send = |tag: String, body: Value| {
        let api = &api;
        async move {
            let res = api
                .http
                .post(format!("{}/catalog/append", api.base))
                .bearer_auth(TOKEN)
                .header("if-match", tag)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (st, m) = send(tag.clone(), append.clone()).await;
    assert_eq!(st, StatusCode::OK, "{m}");
    let mut again = append.clone();
    again["objects"] = json!([obj("datasets/s/c.parquet", 1)]);
    let (st, e) = send(tag, again.clone()).await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::CONFLICT, "version_conflict"),
        "{e}"
    );
    assert_eq!(e["error"]["current_version"], m["catalog_version"]);
    let (st, e) = send("\"twelve\"".into(), again.clone()).await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_precondition"),
        "{e}"
    );
    again["expected_version"] = json!(1);
    let (st, e) = send(format!("\"{}\"", m["catalog_version"]), again).await;
    assert_eq!(
        (st, code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_precondition"),
        "{e}"
    );
    // A stale delete changes nothing.
    let (st, _) = api
        .call(
            Method::DELETE,
            &format!("/catalog/manifest/s?expected_version={v}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(api.get("/catalog/manifest/s").await.0, StatusCode::OK);
}

#[tokio::test]
async fn sixty_four_writers_get_sixty_four_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Arc::new(Api::new(&catalogd(&s).await));
    api.wait_ready().await;
    let start = api.version().await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let name = format!("d{}", i % 8);
                let body = json!({"name": name, "schema_fingerprint": "fp", "schema": schema(),
                    "objects": [obj(&format!("datasets/{name}/{i}.parquet"), 1)], "create": true});
                let (st, m) = api.post("/catalog/append", body).await;
                assert!(st.is_success(), "{m}");
                m["catalog_version"].as_u64().unwrap()
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 64, "two commits shared a version");
    assert_eq!(api.version().await, start + 64);
    let (_, log) = api
        .get(&format!("/catalog/log?after={start}&limit=1000"))
        .await;
    let listed: Vec<u64> = log["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, versions);
    let again = Api::new(&catalogd(&s).await);
    again.wait_ready().await;
    let (_, l) = again.get("/catalog/list").await;
    let objects: usize = l["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["objects"].as_array().unwrap().len())
        .sum();
    assert_eq!(objects, 64);
}

#[tokio::test]
async fn gc_deletes_what_no_retained_snapshot_references() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let extra = "keep_versions = 1\nkeep_days = 0\ngc_grace_seconds = 2\ngc_interval_minutes = 0";
    let api = Api::new(&catalogd_with(&s, extra).await);
    api.wait_ready().await;
    for k in [
        "datasets/s/a.parquet",
        "datasets/s/b.parquet",
        "datasets/s/orphan.parquet",
        "raw/keep.parquet",
    ] {
        put_object(&s, k, b"parquet bytes").await;
    }
    let (_, m1) = api
        .post("/catalog/register", reg("s", &["datasets/s/a.parquet"]))
        .await;
    let v1 = m1["catalog_version"].as_u64().unwrap();
    api.post("/catalog/register", reg("s", &["datasets/s/b.parquet"]))
        .await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    put_object(&s, "datasets/s/young.parquet", b"just uploaded").await;
    let (st, r) = api.post("/catalog/gc", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["snapshots_expired"], 1, "{r}");
    // The two unreferenced objects (a table's Iceberg files are collected once the table has
    // been written for the new history: crates/catalog's tests).
    assert!(r["objects_deleted"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(r["objects_in_grace"], 1, "{r}");
    assert!(r["objects_examined"].as_u64().unwrap() >= 4, "{r}");
    for (k, kept) in [
        ("datasets/s/a.parquet", false),
        ("datasets/s/orphan.parquet", false),
        ("datasets/s/b.parquet", true),
        ("datasets/s/young.parquet", true),
        ("raw/keep.parquet", true),
    ] {
        assert_eq!(object_exists(&s, k).await, kept, "{k}");
    }
    let (st, e) = api.get(&format!("/catalog/manifest/s?version={v1}")).await;
    assert_eq!((st, code(&e)), (StatusCode::GONE, "version_expired"), "{e}");
    let (st, e) = api
        .post("/catalog/manifest/s/rollback", json!({"version": v1}))
        .await;
    assert_eq!((st, code(&e)), (StatusCode::GONE, "version_expired"), "{e}");
    // Expiry is durable: a restart does not bring the snapshot back.
    let again = Api::new(&catalogd_with(&s, extra).await);
    again.wait_ready().await;
    assert_eq!(
        again
            .get(&format!("/catalog/manifest/s?version={v1}"))
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(
        again.get("/catalog/manifest/s").await.1["objects"][0]["key"],
        "datasets/s/b.parquet"
    );
}

#[tokio::test]
async fn retention_keys_are_checked() {
    for (extra, key) in [
        ("keep_versions = 0", "catalogd.keep_versions"),
        ("keep_days = -1", "catalogd.keep_days"),
        ("checkpoint_every = 0", "catalogd.checkpoint_every"),
        ("keep_forever = true", "keep_forever"),
    ] {
        let toml = format!("[catalogd]\n{extra}\n");
        let err = lakehouse_common::config::Config::from_toml(
            &toml,
            std::path::Path::new("t"),
            &|_: &str| None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(key), "{extra}: {err}");
    }
}
