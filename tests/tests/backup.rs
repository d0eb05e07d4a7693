//! Backup and restore with the real binaries: back up a fleet's storage (to a directory or a
//! bucket), wipe it, restore it,
//! and the same SQL answers come back at every backed-up version and the same vector answers
//! now; a second backup copies only what changed; a damaged backup is named and refused
//! before anything is written.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, bin};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-backup-token";

fn lakehouse(f: &Fleet, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(bin("lakehouse"))
        .arg("--config")
        .arg(&f.config)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn count(api: &Api, as_of: u64) -> Value {
    let (st, v) = api
        .sql_with(json!({"sql": "SELECT count(*) AS n, sum(id) AS s FROM t", "as_of": as_of}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["rows"][0].clone()
}

async fn search(api: &Api) -> Value {
    let (st, v) = api
        .post(
            "/vectors/index/docs/search",
            &json!({"vector": [1.0, 0.2, 0.0], "k": 3}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["hits"].clone()
}

/// Stops the fleet and empties its storage directory; returns that directory.
fn stop_and_wipe(f: &mut Fleet) -> std::path::PathBuf {
    for s in SERVERS {
        f.stop(s, false);
    }
    let objects = f.dir.path().join("objects");
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::create_dir_all(&objects).unwrap();
    objects
}

/// A started fleet with dataset `t` made by an ingest and an append: the two answers.
async fn fleet_with_history() -> (Fleet, Api, Value, Value) {
    let mut f = Fleet::new(Some(TOKEN), "");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let (_, a) = api.ingest("name=t", "id\n1\n2\n3\n").await;
    let (_, b) = api.ingest("name=t&mode=append", "id\n10\n20\n").await;
    (f, api, a, b)
}

#[tokio::test]
async fn backup_wipe_restore_answers_the_same() {
    let (mut f, api, a, b) = fleet_with_history().await;
    let (_, c) = api.ingest("name=t&mode=replace", "id\n7\n").await;
    let versions: Vec<u64> = [&a, &b, &c]
        .iter()
        .map(|r| r["catalog_version"].as_u64().unwrap())
        .collect();
    api.post("/vectors/index", &json!({"name": "docs", "dimension": 3}))
        .await;
    api.post(
        "/vectors/index/docs/add",
        &json!({"items": [
            {"id": "a", "vector": [1, 0, 0], "metadata": {"k": 1}},
            {"id": "b", "vector": [0, 1, 0]},
            {"id": "c", "vector": [0.9, 0.3, 0.1]}
        ]}),
    )
    .await;
    let mut answers = Vec::new();
    for v in &versions {
        answers.push(count(&api, *v).await);
    }
    let hits = search(&api).await;

    let dir = f.dir.path().join("backup");
    let to = dir.to_str().unwrap();
    let (code, first, err) = lakehouse(&f, &["backup", "--to", to]);
    assert_eq!(code, 0, "{err}");
    assert!(first["copied"].as_u64().unwrap() > 3, "{first}");
    assert_eq!(first["versions"], json!(versions));
    // Again, with nothing changed: nothing is copied.
    let (code, again, err) = lakehouse(&f, &["backup", "--to", to]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (again["copied"].as_u64(), again["skipped"].clone()),
        (Some(0), first["objects"].clone()),
        "{again}"
    );
    let (code, v, err) = lakehouse(&f, &["verify", "--from", to]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["objects"], first["objects"]);

    // Wipe the fleet's storage; restore into it; start again.
    let objects = stop_and_wipe(&mut f);
    let (code, restored, err) = lakehouse(&f, &["restore", "--from", to]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(restored["objects"], first["objects"]);
    // A restore never writes over a store that holds anything.
    let (code, _, err) = lakehouse(&f, &["restore", "--from", to]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty"), "{err}");
    std::fs::remove_dir_all(f.dir.path().join("cache")).ok();
    f.start(&SERVERS);
    // A new client: the old one's pooled connections died with the gateway.
    let api = Api::new(&f.url("gateway"), TOKEN);
    for (v, want) in versions.iter().zip(&answers) {
        assert_eq!(&count(&api, *v).await, want, "at version {v}");
    }
    assert_eq!(search(&api).await, hits);

    // Damage one data object in the backup: the restore names it and writes nothing.
    stop_and_wipe(&mut f);
    let victim = dir.join(a["object_key"].as_str().unwrap());
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let (code, _, err) = lakehouse(&f, &["restore", "--from", to]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(a["object_key"].as_str().unwrap()), "{err}");
    let written: Vec<_> = std::fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != ".lakehouse-tmp")
        .collect();
    assert!(written.is_empty(), "a refused restore wrote {written:?}");
    let (code, _, err) = lakehouse(&f, &["verify", "--from", to]);
    assert_eq!(code, 1, "{err}");
    // A damaged manifest is refused too.
    std::fs::write(dir.join("_backup/manifest.json"), b"{}").unwrap();
    let (code, _, err) = lakehouse(&f, &["restore", "--from", to]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("manifest.sha256"), "{err}");
}

#[tokio::test]
async fn backup_to_an_s3_bucket_and_restore_from_it() {
    let (mut f, api, a, b) = fleet_with_history().await;
    let versions = [&a, &b].map(|r| r["catalog_version"].as_u64().unwrap());
    let mut answers = Vec::new();
    for v in versions {
        answers.push(count(&api, v).await);
    }
    let env = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: start the test S3 server with `eval \"$(scripts/s3-server.sh start)\"`")
        })
    };
    // Under a prefix of its own in the shared test bucket.
    let prefix = f
        .dir
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches('.')
        .to_owned();
    let to = format!("s3://{}/backups/{prefix}/", env("LAKEHOUSE_TEST_S3_BUCKET"));
    let endpoint = env("LAKEHOUSE_TEST_S3_ENDPOINT");
    let region = env("LAKEHOUSE_TEST_S3_REGION");
    let s3 = [
        "--s3-endpoint",
        endpoint.as_str(),
        "--s3-region",
        region.as_str(),
    ];
    fn with<'a>(args: &[&'a str], s3: &[&'a str]) -> Vec<&'a str> {
        [args, s3].concat()
    }
    let (code, first, err) = lakehouse(&f, &with(&["backup", "--to", &to], &s3));
    assert_eq!(code, 0, "{err}");
    assert_eq!(first["versions"], json!(versions));
    let (code, again, err) = lakehouse(&f, &with(&["backup", "--to", &to], &s3));
    assert_eq!(code, 0, "{err}");
    assert_eq!(again["copied"], 0, "{again}");
    let (code, v, err) = lakehouse(&f, &with(&["verify", "--from", &to], &s3));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["objects"], first["objects"]);

    stop_and_wipe(&mut f);
    let (code, restored, err) = lakehouse(&f, &with(&["restore", "--from", &to], &s3));
    assert_eq!(code, 0, "{err}");
    assert_eq!(restored["objects"], first["objects"]);
    std::fs::remove_dir_all(f.dir.path().join("cache")).ok();
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    for (v, want) in versions.iter().zip(&answers) {
        assert_eq!(&count(&api, *v).await, want, "at version {v}");
    }
    // A malformed location is a usage error.
    let (code, _, err) = lakehouse(&f, &["verify", "--from", "s3:///nobucket"]);
    assert_eq!(code, 2, "{err}");
}
