//! Every dataset is an Iceberg table other engines read, proven with real clients rather than
//! our own code: PyIceberg over the REST catalog (`/v1/iceberg`, the fleet's bearer token)
//! and DuckDB's own iceberg extension, from the metadata file and through the REST catalog,
//! at the current snapshot and an older one, equal to what `/v1/sql` answers — on the `fs`
//! backend and on S3 (Garage), where the readers bring their own S3 credentials.
//!
//! The readers run in the virtualenv of `scripts/iceberg-clients.sh`
//! (`LAKEHOUSE_TEST_ICEBERG_PYTHON`; scripts/test.sh installs it).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-iceberg-token";

fn python() -> PathBuf {
    let p = std::env::var("LAKEHOUSE_TEST_ICEBERG_PYTHON").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/lakehouse/venv-iceberg/bin/python")
        },
        PathBuf::from,
    );
    assert!(
        p.exists(),
        "{} is missing: install the Iceberg readers with `scripts/iceberg-clients.sh install` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// Runs the readers of tests/iceberg/read_tables.py with `spec`.
fn read_tables(f: &Fleet, spec: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("iceberg/read_tables.py");
    let out = Command::new(python())
        .arg(script)
        .arg(spec.to_string())
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "readers failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// `/v1/sql`'s rows, sorted as the readers sort theirs.
async fn sql_rows(api: &Api, table: &str, as_of: Option<u64>) -> Vec<Value> {
    let mut body = json!({"sql": format!("SELECT * FROM {table}")});
    if let Some(v) = as_of {
        body["as_of"] = json!(v);
    }
    let (st, v) = api.sql_with(body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut rows = v["rows"].as_array().unwrap().clone();
    rows.sort_by_key(sorted_json);
    rows
}

/// JSON with sorted keys, as Python's `json.dumps(sort_keys=True)` writes it.
fn sorted_json(v: &Value) -> String {
    let map: std::collections::BTreeMap<String, Value> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::to_string(&map).unwrap()
}

fn orders(from: u64, n: u64) -> String {
    let mut s = String::from("id,region,amount,paid,day,note\n");
    for i in from..from + n {
        s.push_str(&format!(
            "{i},{},{}.25,{},2026-11-{:02},\"n, {i}\"\n",
            ["north", "south", "east"][(i % 3) as usize],
            i * 3,
            i % 2 == 0,
            1 + i % 28
        ));
    }
    s
}

async fn scenario(storage: Storage) {
    let mut f = Fleet::with(Some(TOKEN), storage, &[], "");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    // Three snapshots: create, append, replace; the Iceberg history matches.
    let (st, a) = api.ingest("name=orders", orders(0, 40)).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let (_, b) = api.ingest("name=orders&mode=append", orders(40, 25)).await;
    let (_, c) = api
        .ingest("name=orders&mode=replace", orders(100, 30))
        .await;
    let versions: Vec<u64> = [&a, &b, &c]
        .iter()
        .map(|r| r["catalog_version"].as_u64().unwrap())
        .collect();
    let (st, other) = api.ingest("name=other", "x\n1\n").await;
    assert_eq!(st, StatusCode::OK, "{other}");

    let (st, t) = api
        .get("/iceberg/v1/namespaces/lakehouse/tables/orders")
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let location = t["metadata-location"].as_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("v{}.metadata.json", versions[2])),
        "{location}"
    );
    let mut spec = json!({
        "uri": format!("{}/v1/iceberg", f.url("gateway")),
        "token": TOKEN,
        "table": "orders",
        "old_snapshot": versions[1],
        "metadata_location": location,
    });
    if storage == Storage::S3 {
        let env = |k: &str| std::env::var(k).unwrap();
        spec["s3"] = json!({
            "endpoint": env("LAKEHOUSE_TEST_S3_ENDPOINT"),
            "region": env("LAKEHOUSE_TEST_S3_REGION"),
            "key_id": env("AWS_ACCESS_KEY_ID"),
            "secret": env("AWS_SECRET_ACCESS_KEY"),
        });
        assert!(location.starts_with("s3://"), "{location}");
        assert_eq!(
            t["config"]["s3.endpoint"],
            env("LAKEHOUSE_TEST_S3_ENDPOINT")
        );
        assert!(t["config"].get("s3.secret-access-key").is_none(), "{t}");
    } else {
        assert!(location.starts_with("file:///"), "{location}");
    }
    let now = sql_rows(&api, "orders", None).await;
    let old = sql_rows(&api, "orders", Some(versions[1])).await;
    assert_eq!((now.len(), old.len()), (30, 65));
    let got = read_tables(&f, &spec);

    let py = &got["pyiceberg"];
    assert!(py.get("error").is_none(), "PyIceberg: {py}");
    assert_eq!(py["namespaces"], json!([["lakehouse"]]));
    assert_eq!(py["tables"], json!(["lakehouse.orders", "lakehouse.other"]));
    assert_eq!(
        (&py["exists"], &py["missing_exists"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(py["missing_load"], "NoSuchTableError");
    assert_eq!(py["snapshots"], json!(versions));
    assert_eq!(py["current_snapshot"], json!(versions[2]));
    assert_eq!(
        py["rows"],
        json!(now),
        "PyIceberg's scan differs from /v1/sql"
    );
    assert_eq!(
        py["rows_old"],
        json!(old),
        "PyIceberg at snapshot {}",
        versions[1]
    );

    let duck = &got["duckdb"];
    assert!(duck.get("error").is_none(), "DuckDB: {duck}");
    assert_eq!(
        duck["rows"],
        json!(now),
        "DuckDB's iceberg_scan differs from /v1/sql"
    );
    assert_eq!(duck["rows_old"], json!(old));
    assert_eq!(duck["snapshots"], json!(versions));
    assert_eq!(
        duck["rest_rows"],
        json!(now),
        "DuckDB through the REST catalog"
    );

    // A delete ends the table; a rollback brings it back as a new snapshot.
    let (st, _) = api.delete("/catalog/manifest/orders").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = api
        .get("/iceberg/v1/namespaces/lakehouse/tables/orders")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["type"], "NoSuchTableException");
    let (st, r) = api
        .post(
            "/catalog/manifest/orders/rollback",
            &json!({"version": versions[1]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (_, t) = api
        .get("/iceberg/v1/namespaces/lakehouse/tables/orders")
        .await;
    let head = r["catalog_version"].as_u64().unwrap();
    assert_eq!(t["metadata"]["current-snapshot-id"], json!(head));
    assert_eq!(t["metadata"]["snapshots"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_iceberg_clients_read_tables_on_fs() {
    scenario(Storage::Fs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn real_iceberg_clients_read_tables_on_s3() {
    scenario(Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rest_catalog_is_read_only_scoped_and_speaks_the_spec_errors() {
    let f = Fleet::new(Some(TOKEN), "");
    let path = f.dir.path().join("scoped.token");
    let scoped_token = format!("scoped-{}", "s".repeat(40));
    std::fs::write(&path, &scoped_token).unwrap();
    f.append_config(&format!(
        "[[auth.clients]]\nname = \"scoped\"\nrole = \"read\"\ntoken_file = {:?}\ndatasets = [\"sales*\"]\n",
        path.to_str().unwrap()
    ));
    let mut f = f;
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let scoped = Api::new(&f.url("gateway"), &scoped_token);
    for name in ["sales_eu", "secrets"] {
        let (st, v) = api.ingest(&format!("name={name}"), "id\n1\n").await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let (st, cfg) = api.get("/iceberg/v1/config?warehouse=lakehouse").await;
    assert_eq!(st, StatusCode::OK, "{cfg}");
    let endpoints = cfg["endpoints"].as_array().unwrap();
    for e in [
        "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    ] {
        assert!(endpoints.contains(&json!(e)), "{e} not in {cfg}");
    }

    // A scoped token lists and loads only its own tables.
    let (st, list) = scoped.get("/iceberg/v1/namespaces/lakehouse/tables").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(
        list["identifiers"],
        json!([{"namespace": ["lakehouse"], "name": "sales_eu"}])
    );
    let (st, _) = scoped
        .get("/iceberg/v1/namespaces/lakehouse/tables/secrets")
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, t) = scoped
        .get("/iceberg/v1/namespaces/lakehouse/tables/sales_eu")
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    // No token at all: 401.
    let anon = Api::new(&f.url("gateway"), "");
    let (st, _) = anon.get("/iceberg/v1/config").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Pages of tables, only when asked for with a pageToken (empty for the first page).
    let tables = "/iceberg/v1/namespaces/lakehouse/tables";
    let (_, all) = api.get(&format!("{tables}?pageSize=1")).await;
    assert_eq!(all["identifiers"].as_array().unwrap().len(), 2, "{all}");
    for bad in ["0", "x", "-1"] {
        let (st, e) = api
            .get(&format!("{tables}?pageToken=&pageSize={bad}"))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(e["error"]["type"], "BadRequestException");
    }
    let (st, e) = api.get("/iceberg/v1/tables/rename").await;
    assert_eq!(
        (st, &e["error"]["type"]),
        (StatusCode::NOT_FOUND, &json!("NotFoundException"))
    );
    let (_, p1) = api.get(&format!("{tables}?pageToken=&pageSize=1")).await;
    assert_eq!(p1["identifiers"][0]["name"], "sales_eu");
    assert_eq!(p1["next-page-token"], "sales_eu");
    let (_, p2) = api
        .get("/iceberg/v1/namespaces/lakehouse/tables?pageSize=1&pageToken=sales_eu")
        .await;
    assert_eq!(p2["identifiers"][0]["name"], "secrets");
    assert!(p2.get("next-page-token").is_none(), "{p2}");

    // Spec-shaped errors: unknown namespace, and writes refused without touching anything.
    let (st, e) = api.get("/iceberg/v1/namespaces/elsewhere/tables").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["type"], "NoSuchNamespaceException");
    assert_eq!(e["error"]["code"], 404);
    let before = api.get("/catalog/version").await.1;
    let (st, e) = api
        .post(
            "/iceberg/v1/namespaces/lakehouse/tables",
            &json!({"name": "x", "schema": {}}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_ACCEPTABLE, "{e}");
    assert_eq!(e["error"]["type"], "UnsupportedOperationException");
    let (st, _) = api
        .delete("/iceberg/v1/namespaces/lakehouse/tables/sales_eu")
        .await;
    assert_eq!(st, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(api.get("/catalog/version").await.1, before);
}
