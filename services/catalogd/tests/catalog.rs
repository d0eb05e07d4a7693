//! catalogd on real sockets over a real storaged (fs): the register contract, appends under
//! contention, durability across restarts, corrupt state and storage outages.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[tokio::test]
async fn register_contract() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Api::new(&catalogd(&s).await);
    api.wait_ready().await;
    for k in ["datasets/sales/a.parquet", "datasets/sales/b.parquet"] {
        put_object(&s, k, b"x").await;
    }
    let v0 = api.version().await;

    let body = json!({"name": "sales", "schema_fingerprint": "fp1", "schema": schema(),
        "objects": [obj("datasets/sales/a.parquet", 3)], "row_count": 3});
    let (st, m) = api.post("/catalog/register", body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["existing"], false);
    assert_eq!(m["version"], 1);
    assert_eq!(m["row_count"], 3);
    assert_eq!(m["schema"][0]["type"], "BIGINT");
    let v1 = api.version().await;
    assert!(v1 > v0);
    assert_eq!(m["catalog_version"], v1);

    // The commit is durable before the answer.
    assert!(object_exists(&s, &format!("_catalog/log/{v1:020}.json")).await);

    // Same fingerprint and objects: unchanged.
    let (st, m) = api.post("/catalog/register", body.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (m["existing"].clone(), m["version"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(api.version().await, v1);

    // Same fingerprint, other objects: replaced, version + 1; the dropped object stays, in the
    // older snapshot.
    let (st, m) = api
        .post(
            "/catalog/register",
            json!({"name": "sales", "schema_fingerprint": "fp1", "schema": schema(),
            "objects": [obj("datasets/sales/b.parquet", 5)]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(
        (
            m["existing"].clone(),
            m["version"].clone(),
            m["row_count"].clone()
        ),
        (json!(true), json!(2), json!(5))
    );
    assert!(api.version().await > v1);
    assert!(object_exists(&s, "datasets/sales/a.parquet").await);
    assert!(object_exists(&s, "datasets/sales/b.parquet").await);
    let (st, then) = api
        .get(&format!("/catalog/manifest/sales?version={v1}"))
        .await;
    assert_eq!(st, StatusCode::OK, "{then}");
    assert_eq!(then["objects"][0]["key"], "datasets/sales/a.parquet");

    // Other fingerprint: 409 naming both, nothing changed.
    let (st, e) = api
        .post(
            "/catalog/register",
            json!({"name": "sales", "schema_fingerprint": "fp2", "objects": []}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("fp1") && msg.contains("fp2"), "{msg}");
    assert_eq!(api.get("/catalog/manifest/sales").await.1["version"], 2);

    // Names differing only in case would be the same SQL view.
    let (st, e) = api
        .post(
            "/catalog/register",
            json!({"name": "SALES", "schema_fingerprint": "fp1", "objects": []}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");

    // Bad input: 400, nothing written.
    let before = api.version().await;
    for bad in [
        json!({"name": "", "schema_fingerprint": "fp", "objects": []}),
        json!({"name": "ok", "schema_fingerprint": "", "objects": []}),
        json!({"name": ".hidden", "schema_fingerprint": "fp", "objects": []}),
        json!({"name": "a/b", "schema_fingerprint": "fp", "objects": []}),
        json!({"name": "x".repeat(129), "schema_fingerprint": "fp", "objects": []}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [obj("../etc", 1)]}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [obj("a", 1), obj("a", 1)]}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [obj("a", 1)], "row_count": 7}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [], "surprise": 1}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [],
               "schema": [{"name": "a", "type": "BIGINT"}, {"name": "A", "type": "BIGINT"}]}),
        json!({"name": "ok"}),
        // A type outside the closed set would reach SQL through queryd's empty views.
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [],
               "schema": [{"name": "a", "type": "BIGINT) AS a; CREATE OR REPLACE VIEW sales AS SELECT 1 --"}]}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [],
               "schema": [{"name": "a", "type": "DECIMAL(10,2)"}]}),
        // Another dataset's objects, or the fleet's own state, are never a dataset's data.
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [obj("datasets/sales/a.parquet", 3)]}),
        json!({"name": "ok", "schema_fingerprint": "fp", "objects": [obj("_catalog/manifests/sales.json", 1)]}),
        json!({"name": "_catalog", "schema_fingerprint": "fp", "objects": [obj("_catalog/manifests/sales.json", 1)]}),
        json!({"name": "datasets", "schema_fingerprint": "fp", "objects": [obj("datasets/sales/a.parquet", 1)]}),
    ] {
        let (st, e) = api.post("/catalog/register", bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad} → {e}");
        assert!(e["error"]["message"].as_str().is_some(), "{e}");
    }
    let res = reqwest::Client::new()
        .post(format!("{}/catalog/register", api.base))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api.version().await, before);
    assert_eq!(api.get("/catalog/list").await.1["count"], 1);

    // Body cap.
    let huge = json!({"name": "big", "schema_fingerprint": "fp", "objects": [], "pad": "x".repeat(5 << 20)});
    assert_eq!(
        api.post("/catalog/register", huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn append_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Api::new(&catalogd(&s).await);
    api.wait_ready().await;

    let (st, _) = api
        .post(
            "/catalog/append",
            json!({"name": "nope", "schema_fingerprint": "fp", "objects": [obj("datasets/nope/k", 1)]}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    put_object(&s, "datasets/ev/1.parquet", b"1").await;
    put_object(&s, "datasets/ev/2.parquet", b"2").await;
    let (st, _) = api
        .post(
            "/catalog/register",
            json!({"name": "ev", "schema_fingerprint": "fp", "schema": schema(),
            "objects": [obj("datasets/ev/1.parquet", 10)]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, e) = api
        .post(
            "/catalog/append",
            json!({"name": "ev", "schema_fingerprint": "other", "objects": [obj("datasets/ev/x", 1)]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");

    let append = json!({"name": "ev", "schema_fingerprint": "fp", "objects": [obj("datasets/ev/2.parquet", 5)]});
    let (st, m) = api.post("/catalog/append", append.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (
            m["existing"].clone(),
            m["version"].clone(),
            m["row_count"].clone()
        ),
        (json!(false), json!(2), json!(15))
    );
    // The same append again changes nothing.
    let (st, m) = api.post("/catalog/append", append).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (
            m["existing"].clone(),
            m["version"].clone(),
            m["row_count"].clone()
        ),
        (json!(true), json!(2), json!(15))
    );

    let (st, l) = api.get("/catalog/list").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(l["count"], 1);
    assert_eq!(l["manifests"][0]["objects"].as_array().unwrap().len(), 2);

    let v = api.version().await;
    let (st, _) = api
        .call(reqwest::Method::DELETE, "/catalog/manifest/ev", None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(api.version().await > v);
    assert_eq!(
        api.get("/catalog/manifest/ev").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(reqwest::Method::DELETE, "/catalog/manifest/ev", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The data stays until retention expires the snapshots; a rollback brings it back.
    for k in ["datasets/ev/1.parquet", "datasets/ev/2.parquet"] {
        assert!(
            object_exists(&s, k).await,
            "{k} was deleted with the dataset"
        );
    }
    let (st, h) = api.get("/catalog/manifest/ev/history").await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(h["snapshots"][0]["op"], "delete");
    assert_eq!(h["snapshots"][0]["exists"], false);
    assert_eq!(h["snapshots"][1]["row_count"], 15);
    let (st, m) = api
        .post("/catalog/manifest/ev/rollback", json!({"version": v}))
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["row_count"], 15);
    assert_eq!(
        api.get("/catalog/manifest/ev").await.1["objects"],
        m["objects"]
    );
}

#[tokio::test]
async fn parallel_appends_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let cat = catalogd(&s).await;
    let api = Arc::new(Api::new(&cat));
    api.wait_ready().await;
    let (st, _) = api
        .post(
            "/catalog/register",
            json!({"name": "log", "schema_fingerprint": "fp", "objects": []}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);

    let n = 64;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let body = json!({"name": "log", "schema_fingerprint": "fp",
                    "objects": [obj(&format!("datasets/log/{i:03}.parquet"), i)]});
                api.post("/catalog/append", body).await.0
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let check = |m: &Value| {
        let mut keys: Vec<String> = m["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["key"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        let want: Vec<String> = (0..n)
            .map(|i| format!("datasets/log/{i:03}.parquet"))
            .collect();
        assert_eq!(keys, want);
        assert_eq!(m["row_count"], (0..n).sum::<u64>());
        assert_eq!(m["version"], n + 1);
    };
    check(&api.get("/catalog/manifest/log").await.1);

    // What storage holds is the same: a fresh catalogd sees every append.
    let again = Api::new(&catalogd(&s).await);
    again.wait_ready().await;
    check(&again.get("/catalog/manifest/log").await.1);
}

#[tokio::test]
async fn appends_that_create_race_without_losing_objects() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Arc::new(Api::new(&catalogd(&s).await));
    api.wait_ready().await;

    // create without a schema is refused, and changes nothing.
    let (st, e) = api
        .post(
            "/catalog/append",
            json!({"name": "runs", "schema_fingerprint": "fp", "objects": [obj("a", 1)], "create": true}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(
        api.get("/catalog/manifest/runs").await.0,
        StatusCode::NOT_FOUND
    );

    // Eight jobs append to a dataset none of them saw: one creates it, all land.
    let n = 8;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let body = json!({"name": "runs", "schema_fingerprint": "fp", "schema": schema(),
                    "objects": [obj(&format!("runs/{i}.parquet"), 1)], "create": true});
                api.post("/catalog/append", body).await.0
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(created, 1);
    let (_, m) = api.get("/catalog/manifest/runs").await;
    assert_eq!(m["objects"].as_array().unwrap().len(), n);
    assert_eq!(m["row_count"], n);
    assert_eq!(m["version"], n);
    assert_eq!(m["schema"], schema());
}

#[tokio::test]
async fn restart_keeps_the_version_and_skips_corrupt_commits() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let api = Api::new(&catalogd(&s).await);
    api.wait_ready().await;
    for name in ["a", "b"] {
        let (st, _) = api
            .post("/catalog/register", json!({"name": name, "schema_fingerprint": "fp", "schema": schema(), "objects": []}))
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let before = api.get("/catalog/list").await.1;
    let v = before["version"].as_u64().unwrap();
    // Damage written around catalogd: a torn commit, one under another version's key, and
    // one whose snapshot names a type that would become SQL.
    put_object(
        &s,
        &format!("_catalog/log/{:020}.json", v + 1),
        b"{\"format\": 1, trunc",
    )
    .await;
    let good = reqwest::Client::new()
        .get(format!("{s}/storage/objects/_catalog/log/{v:020}.json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    put_object(&s, &format!("_catalog/log/{:020}.json", v + 2), &good).await;
    let mut evil: Value = serde_json::from_slice(&good).unwrap();
    evil["version"] = json!(v + 3);
    evil["changes"][0]["name"] = json!("evil");
    evil["changes"][0]["snapshot"]["version"] = json!(v + 3);
    evil["changes"][0]["snapshot"]["body"]["schema"][0]["type"] =
        json!("BIGINT) AS id; CREATE VIEW a AS SELECT 1; --");
    put_object(
        &s,
        &format!("_catalog/log/{:020}.json", v + 3),
        &serde_json::to_vec(&evil).unwrap(),
    )
    .await;

    let again = Api::new(&catalogd(&s).await);
    let ready = again.wait_ready().await;
    let warnings = ready["warnings"].to_string();
    for skipped in [
        format!("{:020}.json: corrupt commit", v + 1),
        format!("{:020}.json: holds commit {v}", v + 2),
        "dataset 'evil'".to_owned(),
    ] {
        assert!(warnings.contains(&skipped), "{skipped}: {ready}");
    }
    let after = again.get("/catalog/list").await.1;
    assert_eq!(after["manifests"], before["manifests"]);
    assert!(
        after["version"].as_u64().unwrap() >= v,
        "version went back after a restart"
    );
}

/// A store written before versions (one manifest per dataset) is imported once, as commit 1;
/// what that layout's loader refused is still refused.
#[tokio::test]
async fn the_layout_before_versions_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let s = storaged(dir.path()).await;
    let good = json!({"name": "a", "schema_fingerprint": "fp", "schema": schema(),
        "objects": [{"key": "datasets/a/x.parquet", "size": 1, "row_count": 2}], "row_count": 2,
        "version": 4, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"});
    put_object(
        &s,
        "_catalog/manifests/a.json",
        &serde_json::to_vec(&good).unwrap(),
    )
    .await;
    put_object(
        &s,
        "_catalog/manifests/broken.json",
        b"{\"name\": \"broken\", trunc",
    )
    .await;
    put_object(
        &s,
        "_catalog/manifests/wrong.json",
        &serde_json::to_vec(&good).unwrap(),
    )
    .await;
    let mut evil = good.clone();
    evil["name"] = json!("evil");
    evil["schema"][0]["type"] = json!("BIGINT) AS id; CREATE VIEW a AS SELECT 1; --");
    put_object(
        &s,
        "_catalog/manifests/evil.json",
        &serde_json::to_vec(&evil).unwrap(),
    )
    .await;
    let mut thief = good.clone();
    thief["name"] = json!("thief");
    thief["objects"] = json!([{"key": "_catalog/manifests/a.json", "size": 1, "row_count": 0}]);
    put_object(
        &s,
        "_catalog/manifests/thief.json",
        &serde_json::to_vec(&thief).unwrap(),
    )
    .await;

    let api = Api::new(&catalogd(&s).await);
    let ready = api.wait_ready().await;
    let warnings = ready["warnings"].to_string();
    for skipped in ["broken.json", "wrong.json", "evil.json", "thief.json"] {
        assert!(warnings.contains(skipped), "{skipped}: {ready}");
    }
    let (_, m) = api.get("/catalog/manifest/a").await;
    assert_eq!(
        (m["version"].clone(), m["catalog_version"].clone()),
        (json!(4), json!(1))
    );
    assert_eq!(api.get("/catalog/list").await.1["count"], 1);
    // Imported once: a restart reads the log, not the old manifests again.
    let (st, _) = api
        .post(
            "/catalog/append",
            json!({"name": "a", "schema_fingerprint": "fp",
            "objects": [obj("datasets/a/y.parquet", 1)]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let again = Api::new(&catalogd(&s).await);
    again.wait_ready().await;
    assert_eq!(again.version().await, 2);
    assert_eq!(again.get("/catalog/manifest/a").await.1["row_count"], 3);
}

#[tokio::test]
async fn waits_for_storage_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = Api::new(&catalogd(&format!("http://{addr}")).await);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = api
        .http
        .get(format!("{}/ready", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["reasons"].to_string().contains("loading the catalog"),
        "{body}"
    );
    let (st, e) = api.get("/catalog/list").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{e}");

    storaged_on(TcpListener::bind(addr).await.unwrap(), dir.path()).await;
    api.wait_ready().await;
    assert_eq!(api.get("/catalog/list").await.1["count"], 0);
}
