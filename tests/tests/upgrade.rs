//! Upgrades: this build's binaries start on the state an earlier release wrote and answer what
//! that release answered. Each `tests/fixtures/upgrade/<release>/` holds the objects a fleet of
//! that release left in storage (`scripts/upgrade-fixture.sh` writes them: datasets with
//! history, a vector index with a snapshot and log records after it, evidence and its receipt,
//! Iceberg metadata) and `expect.json`, the answers it gave. The fleet here must give the same,
//! report nothing skipped in `/ready`, take new writes on top, and keep all of it across a
//! restart.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-upgrade-token";

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.json").exists())
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

async fn answers_as_before(api: &Api, expect: &Value, release: &str) {
    let (_, v) = api.get("/catalog/version").await;
    assert_eq!(v["version"], expect["catalog_version"], "{release}");
    let (_, list) = api.get("/catalog/list").await;
    let mut names: Vec<&str> = list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(json!(names), expect["datasets"], "{release}");
    for q in expect["sql"].as_array().unwrap() {
        let rows = api.rows(q["sql"].as_str().unwrap()).await;
        assert_eq!(json!(rows), q["rows"], "{release}: {}", q["sql"]);
    }
    for q in expect["as_of"].as_array().unwrap() {
        let (st, r) = api
            .sql_with(json!({"sql": q["sql"], "as_of": q["as_of"]}))
            .await;
        assert!(st.is_success(), "{release}: {r}");
        assert_eq!(r["rows"], q["rows"], "{release}: as of {}", q["as_of"]);
    }
    for (name, versions) in expect["history"].as_object().unwrap() {
        let (_, h) = api.get(&format!("/catalog/manifest/{name}/history")).await;
        let got: Vec<&Value> = h["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["version"])
            .collect();
        assert_eq!(json!(got), *versions, "{release}: history of {name}");
    }
    for (name, want) in expect["indexes"].as_object().unwrap() {
        let (st, info) = api.get(&format!("/vectors/index/{name}")).await;
        assert!(st.is_success(), "{release}: {info}");
        assert_eq!(info["length"], want["length"], "{release}: {name}");
        if !want["search"].is_null() {
            let (_, hits) = api
                .post(&format!("/vectors/index/{name}/search"), &want["search"])
                .await;
            let ids: Vec<&Value> = hits["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| &h["id"])
                .collect();
            assert_eq!(json!(ids), want["hits"], "{release}: search of {name}");
        }
    }
    // Every table loads through the Iceberg REST catalog, as Iceberg format version 2.
    for name in expect["datasets"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let (st, t) = api
            .get(&format!("/iceberg/v1/namespaces/lakehouse/tables/{name}"))
            .await;
        assert!(st.is_success(), "{release}: {name}: {t}");
        assert_eq!(t["metadata"]["format-version"], 2, "{release}: {name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn this_build_starts_on_every_earlier_releases_state_and_answers_alike() {
    let all = fixtures();
    assert!(!all.is_empty(), "no fixture under tests/fixtures/upgrade");
    for dir in all {
        let release = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let expect: Value =
            serde_json::from_slice(&std::fs::read(dir.join("expect.json")).unwrap()).unwrap();
        let mut f = Fleet::new(
            Some(TOKEN),
            "[embed]\nprovider = \"hash\"\ndimension = 32\n",
        );
        copy_dir(&dir.join("objects"), &f.dir.path().join("objects"));
        f.start(&SERVERS);
        let api = Api::new(&f.url("gateway"), TOKEN);
        // Nothing of the old state was skipped as unreadable.
        for svc in ["catalogd", "vectord"] {
            let res = reqwest::get(format!("{}/ready", f.url(svc))).await.unwrap();
            let ok = res.status().is_success();
            assert!(ok, "{release}: {svc}: {}", res.text().await.unwrap());
        }
        answers_as_before(&api, &expect, &release).await;

        // New writes on top of the old state, then a restart: old and new are both there.
        let (st, r) = api
            .ingest(
                "name=daily&mode=append",
                "day,orders,rate\n2026-12-01,1,0.5\n",
            )
            .await;
        assert!(st.is_success(), "{release}: {r}");
        let (st, r) = api
            .post(
                "/vectors/index/docs/add",
                &json!({"items": [{"id": "new", "vector": [10, 3, 1]}]}),
            )
            .await;
        assert!(st.is_success(), "{release}: {r}");
        f.restart_all();
        let api = Api::new(&f.url("gateway"), TOKEN);
        let daily = expect["sql"][1]["rows"].as_array().unwrap().len();
        let rows = api.rows("SELECT count(*) AS n FROM daily").await;
        assert_eq!(rows[0]["n"], daily + 1, "{release}");
        let (_, hits) = api
            .post(
                "/vectors/index/docs/search",
                &json!({"vector": [10, 3, 1], "k": 1}),
            )
            .await;
        let first = &hits["results"][0];
        assert!(
            first["id"] == "new" || first["distance"] == 0.0,
            "{release}: {hits}"
        );
        let (_, m) = api.get("/catalog/manifest/placements").await;
        assert_eq!(m["version"], 1, "{release}: an old dataset changed: {m}");
    }
}
