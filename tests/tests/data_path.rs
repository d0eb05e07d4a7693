//! CSV upload to SQL answer with the real binaries, through the gateway: idempotent ingest,
//! append, GROUP BY, delete, restarts, read-your-writes, the error paths (each checked to
//! leave storage and catalog unchanged), the sandbox, output formats and a 1,000,000-row file.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use lakehouse_e2e::api::{Api, multipart};
use lakehouse_e2e::{Fleet, SERVERS, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-data-token";

fn fleet(storage: Storage, sections: &[(&str, &str)]) -> (Fleet, Api) {
    let mut f = Fleet::with(Some(TOKEN), storage, sections, "");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    (f, api)
}

/// Deterministic orders: id, region (one of 5), amount, paid, day.
fn orders(from: u64, n: u64) -> String {
    let regions = ["north", "south", "east", "west", "centre"];
    let mut s = String::from("id,region,amount,paid,day\n");
    for i in from..from + n {
        s.push_str(&format!(
            "{i},{},{}.{:02},{},2024-03-{:02}\n",
            regions[(i % 5) as usize],
            i % 97,
            i % 100,
            i % 3 == 0,
            1 + i % 28
        ));
    }
    s
}

async fn queryd_metrics(f: &Fleet) -> String {
    reqwest::Client::new()
        .get(format!("{}/metrics", f.url("queryd")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn scenario(fleet: &mut Fleet, api: &Api) {
    let name = unique("orders");
    let q = format!("name={name}");
    let first = orders(0, 1000);

    let (st, a) = api.ingest(&q, first.clone()).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert_eq!(a["existing"], false);
    assert_eq!(a["rows"], 1000);
    assert_eq!(a["version"], 1);
    let types: Vec<&str> = a["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["BIGINT", "VARCHAR", "DOUBLE", "BOOLEAN", "DATE"]);
    let key = a["object_key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with(&format!("datasets/{name}/")) && key.ends_with(".parquet"),
        "{key}"
    );

    // The same bytes again: nothing new.
    let (st, b) = api.ingest(&q, first.clone()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["existing"].clone(),
            b["version"].clone(),
            b["object_key"].clone()
        ),
        (json!(true), json!(1), json!(key))
    );
    assert_eq!(
        api.data_keys(&format!("datasets/{name}/")).await,
        vec![key.clone()]
    );

    // Append a second file.
    let (st, c) = api
        .ingest(&format!("{q}&mode=append"), orders(1000, 500))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(
        (
            c["existing"].clone(),
            c["version"].clone(),
            c["rows"].clone()
        ),
        (json!(false), json!(2), json!(500))
    );
    assert_eq!(api.data_keys(&format!("datasets/{name}/")).await.len(), 2);

    let count_sql = format!("SELECT count(*) AS n, sum(amount) AS total FROM \"{name}\"");
    let group_sql = format!(
        "SELECT region, count(*) AS n, sum(id)::BIGINT AS ids FROM \"{name}\" GROUP BY region ORDER BY region"
    );
    let count = api.rows(&count_sql).await;
    assert_eq!(count[0]["n"], 1500);
    let want_total: f64 = (0..1500u64)
        .map(|i| (i % 97) as f64 + (i % 100) as f64 / 100.0)
        .sum();
    assert!((count[0]["total"].as_f64().unwrap() - want_total).abs() < 1e-6);
    let groups = api.rows(&group_sql).await;
    assert_eq!(groups.len(), 5);
    let regions = ["north", "south", "east", "west", "centre"];
    for g in &groups {
        let r = regions
            .iter()
            .position(|x| *x == g["region"].as_str().unwrap())
            .unwrap() as u64;
        assert_eq!(g["n"], 300);
        assert_eq!(
            g["ids"].as_u64().unwrap(),
            (0..1500u64).filter(|i| i % 5 == r).sum::<u64>()
        );
    }
    let (st, t) = api.get("/sql/tables").await;
    assert_eq!(st, StatusCode::OK);
    let entry = t["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["row_count"], 1500);
    assert_eq!(entry["columns"].as_array().unwrap().len(), 5);

    // Every service restarts; the answers are identical.
    fleet.restart_all();
    assert_eq!(api.rows(&count_sql).await, count);
    assert_eq!(api.rows(&group_sql).await, groups);

    // Delete: the view disappears; the objects stay in the dataset's older snapshots (until
    // retention expires them), and a rollback brings the dataset back.
    let (st, _) = api.delete(&format!("/catalog/manifest/{name}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = api.sql(&count_sql).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&name),
        "{e}"
    );
    assert!(!api.data_keys(&format!("datasets/{name}/")).await.is_empty());
    let (_, h) = api.get(&format!("/catalog/manifest/{name}/history")).await;
    let before = h["snapshots"][1]["version"].as_u64().unwrap();
    let (st, back) = api
        .post(
            &format!("/catalog/manifest/{name}/rollback"),
            &json!({"version": before}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{back}");
    let (st, again) = api.sql(&count_sql).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["rows"], json!(count));
}

#[tokio::test(flavor = "multi_thread")]
async fn data_path_on_fs() {
    let (mut f, api) = fleet(Storage::Fs, &[]);
    scenario(&mut f, &api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_path_on_s3() {
    let (mut f, api) = fleet(Storage::S3, &[]);
    scenario(&mut f, &api).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_dialects_and_values() {
    let (_f, api) = fleet(Storage::Fs, &[]);
    // BOM, quoted delimiters, quotes and newlines, empty values as NULL, CRLF.
    let csv = "\u{feff}name,note,score,at\r\n\"Smith, J\",\"said \"\"hi\"\"\nthen left\",1.5,2024-01-02 03:04:05\r\nLee,,,\r\n\"\",plain,2,2024-01-03T00:00:00\r\n";
    let (st, a) = api.ingest("name=dialects", csv).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let cols: Vec<(String, String, bool)> = a["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["type"].as_str().unwrap().into(),
                c["nullable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cols,
        vec![
            ("name".into(), "VARCHAR".into(), true),
            ("note".into(), "VARCHAR".into(), true),
            ("score".into(), "DOUBLE".into(), true),
            ("at".into(), "TIMESTAMP".into(), true),
        ]
    );
    let rows = api
        .rows("SELECT * FROM dialects ORDER BY score NULLS LAST")
        .await;
    assert_eq!(rows[0]["name"], "Smith, J");
    assert_eq!(rows[0]["note"], "said \"hi\"\nthen left");
    assert_eq!(rows[0]["score"], 1.5);
    assert_eq!(rows[1]["name"], Value::Null);
    assert_eq!(rows[2]["note"], Value::Null);
    assert_eq!(rows[2]["score"], Value::Null);

    // Every spelling the inference accepts converts (DuckDB agrees with the scan).
    let forms = "b,i,d,day,ts\nTRUE,-5,1e3,2024-02-29,2024-01-02 03:04:05\nfalse,+7,.5,1999-12-31,2024-01-02T03:04\nTrue,0,-2.,2000-01-01,2024-01-02 03:04:05.123456Z\n,,,,2024-01-02\n";
    let (st, a) = api.ingest("name=forms", forms).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let types: Vec<&str> = a["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["BOOLEAN", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP"]);
    assert_eq!(
        api.rows("SELECT count(*) FILTER (WHERE b) AS t, sum(i)::BIGINT AS i, sum(d) AS d, max(day) AS day, min(ts) AS ts FROM forms").await[0],
        json!({"t": 2, "i": 2, "d": 998.5, "day": "2024-02-29", "ts": "2024-01-02T00:00:00"})
    );

    // Semicolons, no header.
    let (st, a) = api
        .ingest("name=semicolons&delimiter=%3B&header=false", "1;x\n2;y\n")
        .await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert_eq!(
        api.rows("SELECT sum(column0)::BIGINT AS s, string_agg(column1, '') AS t FROM semicolons")
            .await[0],
        json!({"s": 3, "t": "xy"})
    );

    // A type contradicted only by the last row is VARCHAR, and every value survives.
    let mut late = String::from("code\n");
    for i in 0..50_000 {
        late.push_str(&format!("{i}\n"));
    }
    late.push_str("A17\n");
    let (st, a) = api.ingest("name=late", late).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert_eq!(a["schema"][0]["type"], "VARCHAR");
    assert_eq!(
        api.rows("SELECT count(*) AS n, max(length(code)) AS l FROM late")
            .await[0],
        json!({"n": 50001, "l": 5})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ingests_change_nothing() {
    let (_f, api) = fleet(Storage::Fs, &[("ingestd", "max_upload_bytes = 100000")]);
    let (st, a) = api.ingest("name=base", "id,name\n1,a\n2,b\n").await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let manifest = api.get("/catalog/manifest/base").await.1;
    // Loading the Iceberg table writes its metadata now, not after the listing below.
    let (st, t) = api
        .get("/iceberg/v1/namespaces/lakehouse/tables/base")
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let keys = api.keys("").await;
    let ingest_tmp = _f.dir.path().join("ingest-tmp");

    let mut big = String::from("id,name\n");
    while big.len() < 200_000 {
        big.push_str("12345,abcdefghij\n");
    }
    // (query, multipart body, expected status, a word the message must contain)
    type Case<'a> = (&'a str, (String, Vec<u8>), StatusCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "",
            multipart("file", b"a\n1\n"),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            "name=bad/name",
            multipart("file", b"a\n1\n"),
            StatusCode::BAD_REQUEST,
            "bad/name",
        ),
        (
            "name=.x",
            multipart("file", b"a\n1\n"),
            StatusCode::BAD_REQUEST,
            "must not start",
        ),
        (
            "name=base&mode=merge",
            multipart("file", b"a\n1\n"),
            StatusCode::BAD_REQUEST,
            "mode",
        ),
        (
            "name=other",
            multipart("upload", b"a\n1\n"),
            StatusCode::BAD_REQUEST,
            "`file`",
        ),
        (
            "name=other",
            ("text/plain".into(), b"a\n1\n".to_vec()),
            StatusCode::BAD_REQUEST,
            "multipart",
        ),
        (
            "name=other",
            (
                "multipart/form-data; boundary=zz".into(),
                b"--zz\r\ngarbage".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "multipart",
        ),
        (
            "name=other",
            multipart("file", &[]),
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "name=other",
            multipart("file", b"a,b\n1,2\n3\n"),
            StatusCode::BAD_REQUEST,
            "line 3",
        ),
        (
            "name=other",
            multipart("file", b"a,b\n1,2\n3,\xff\n"),
            StatusCode::BAD_REQUEST,
            "line 3",
        ),
        (
            "name=other",
            multipart("file", b"a,a\n1,2\n"),
            StatusCode::BAD_REQUEST,
            "twice",
        ),
        (
            "name=other",
            multipart("file", b"a,\n1,2\n"),
            StatusCode::BAD_REQUEST,
            "empty name",
        ),
        (
            "name=other",
            multipart("file", big.as_bytes()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "max_upload_bytes",
        ),
        // A schema change on an existing dataset, in either mode.
        (
            "name=base",
            multipart("file", b"id,name,extra\n1,a,x\n"),
            StatusCode::CONFLICT,
            "differs",
        ),
        (
            "name=base&mode=append",
            multipart("file", b"id,name\nx,a\n"),
            StatusCode::CONFLICT,
            "column 'id' is VARCHAR in the file and BIGINT in the dataset",
        ),
    ];
    for (query, body, status, needle) in cases {
        let (st, e) = api.ingest_raw(query, body).await;
        assert_eq!(st, status, "{query}: {e}");
        let msg = e["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{query}: not a JSON error: {e}"));
        assert!(
            msg.contains(needle),
            "{query}: '{msg}' does not mention '{needle}'"
        );
        assert_eq!(api.keys("").await, keys, "{query} left objects behind");
        assert_eq!(
            api.get("/catalog/manifest/base").await.1,
            manifest,
            "{query} changed the manifest"
        );
        assert_eq!(
            api.get("/catalog/manifest/other").await.0,
            StatusCode::NOT_FOUND
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(&ingest_tmp).unwrap().collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_your_writes_in_a_tight_loop() {
    let (_f, api) = fleet(Storage::Fs, &[]);
    for i in 0..25u64 {
        let (st, a) = api
            .ingest("name=ryw&mode=append", format!("id,v\n{i},{}\n", i * 7))
            .await;
        assert_eq!(st, StatusCode::OK, "{a}");
        let rows = api.rows("SELECT count(*) AS n, sum(v) AS s FROM ryw").await;
        assert_eq!(rows[0]["n"], i + 1, "append {i} not visible");
        assert_eq!(rows[0]["s"], (0..=i).map(|j| j * 7).sum::<u64>());
    }
    // Replace is seen at once too.
    let (st, _) = api.ingest("name=ryw", "id,v\n100,1\n").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(api.rows("SELECT count(*) AS n FROM ryw").await[0]["n"], 1);
    let (st, _) = api.delete("/catalog/manifest/ryw").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        api.sql("SELECT count(*) FROM ryw").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_refuses_every_escape() {
    let (f, api) = fleet(Storage::Fs, &[("queryd", "query_timeout_ms = 1500")]);
    let (st, _) = api.ingest("name=t", "x\n1\n").await;
    assert_eq!(st, StatusCode::OK);
    let cache = f.dir.path().join("cache");
    let config = f.config.to_str().unwrap().to_owned();
    let outside = f.dir.path().join("escaped.csv");
    let o = outside.to_str().unwrap();
    let escapes = [
        "SELECT * FROM read_csv('/etc/passwd')".to_owned(),
        "SELECT * FROM read_text('/etc/passwd')".into(),
        "SELECT * FROM read_blob('/etc/passwd')".into(),
        "SELECT * FROM read_parquet('/etc/passwd')".into(),
        "SELECT * FROM read_json('/etc/passwd')".into(),
        "SELECT * FROM '/etc/passwd'".into(),
        format!("SELECT * FROM read_text('{config}')"),
        format!(
            "SELECT * FROM read_text('{}/objects/../../lakehouse.toml')",
            cache.display()
        ),
        "SELECT * FROM glob('/etc/*')".into(),
        "SELECT * FROM read_csv('http://127.0.0.1:1/x.csv')".into(),
        "SELECT * FROM read_parquet('s3://bucket/x.parquet')".into(),
        format!("COPY (SELECT 1) TO '{o}'"),
        format!("SELECT 1; COPY (SELECT 1) TO '{o}'"),
        "ATTACH ':memory:' AS m".into(),
        format!("ATTACH '{o}.db' AS m"),
        "INSTALL httpfs".into(),
        "LOAD httpfs".into(),
        "SET enable_external_access = true".into(),
        "RESET lock_configuration".into(),
        "PRAGMA threads=1".into(),
        "CREATE TABLE x AS SELECT 1".into(),
        "CREATE OR REPLACE VIEW t AS SELECT 2 AS x".into(),
        "DROP VIEW t".into(),
        "INSERT INTO t VALUES (1)".into(),
        format!("EXPORT DATABASE '{o}'"),
        "CALL enable_profiling()".into(),
        "SELECT * FROM (SELECT 1) ) ; DROP VIEW t; SELECT (1".into(),
        "SELECT E'\\'' ; DROP VIEW t; SELECT '".into(),
        "SELECT 1 /* ; */ ; DROP VIEW t".into(),
    ];
    for sql in &escapes {
        let (st, e) = api.sql(sql).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{sql} → {e}");
        assert!(e["error"]["message"].is_string(), "{sql} → {e}");
        assert!(
            !e.to_string().contains("root:x:0:0"),
            "{sql} leaked /etc/passwd"
        );
    }
    assert!(!outside.exists(), "a query wrote a file");
    assert!(!std::path::Path::new(&format!("{o}.db")).exists());
    // The dataset view is intact.
    assert_eq!(api.rows("SELECT x FROM t").await, vec![json!({"x": 1})]);
    // The token in queryd's environment is not readable (getenv is CLI-only or refused).
    let (st, v) = api.sql("SELECT getenv('HOME') AS h").await;
    assert!(
        st == StatusCode::BAD_REQUEST || v["rows"][0]["h"].is_null(),
        "{v}"
    );

    // Errors: empty, SQL error with DuckDB's message, body cap, time limit.
    assert_eq!(api.sql("  ").await.0, StatusCode::BAD_REQUEST);
    let (st, e) = api.sql("SELECT nope FROM t").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("nope"),
        "{e}"
    );
    let long = format!("SELECT 1 {}", " ".repeat(70 << 10));
    assert_eq!(api.sql(&long).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    let slow = tokio::spawn({
        let api = api.clone();
        async move {
            api.sql("SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b")
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let health = reqwest::get(format!("{}/health", f.url("queryd")))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "health stalled behind a slow query"
    );
    let (st, e) = slow.await.unwrap();
    let queryd_log = f
        .procs
        .iter()
        .find(|(n, _)| *n == "queryd")
        .map(|(_, p)| p.logs())
        .unwrap_or_default();
    assert_eq!(
        st,
        StatusCode::GATEWAY_TIMEOUT,
        "{e}\nqueryd's log:\n{queryd_log}"
    );
    // The connection that was interrupted serves the next query.
    for _ in 0..6 {
        assert_eq!(api.rows("SELECT count(*) AS n FROM t").await[0]["n"], 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_limits_and_cache() {
    let (f, api) = fleet(Storage::Fs, &[("queryd", "cache_max_bytes = 1")]);
    let (st, _) = api.ingest("name=nums", orders(0, 300)).await;
    assert_eq!(st, StatusCode::OK);
    let sql = "SELECT id, region, paid, day FROM nums ORDER BY id";

    let (st, v) = api.sql_with(json!({"sql": sql, "max_rows": 10})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["row_count"].clone(), v["truncated"].clone()),
        (json!(10), json!(true))
    );
    assert_eq!(
        v["columns"],
        json!([{"name":"id","type":"BIGINT"},{"name":"region","type":"VARCHAR"},{"name":"paid","type":"BOOLEAN"},{"name":"day","type":"DATE"}])
    );
    assert_eq!(
        v["rows"][1],
        json!({"id": 1, "region": "south", "paid": false, "day": "2024-03-02"})
    );
    let (_, v) = api.sql_with(json!({"sql": sql, "max_rows": 300})).await;
    assert_eq!(
        (v["row_count"].clone(), v["truncated"].clone()),
        (json!(300), json!(false))
    );

    let res = api
        .sql_raw(json!({"sql": sql, "format": "ndjson", "max_rows": 3}))
        .await;
    assert_eq!(res.headers()["x-lakehouse-truncated"], "true");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["id"], 2);

    let res = api
        .sql_raw(json!({"sql": sql, "format": "csv", "max_rows": 2}))
        .await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        res.text().await.unwrap(),
        "id,region,paid,day\n0,north,true,2024-03-01\n1,south,false,2024-03-02\n"
    );

    let res = api.sql_raw(json!({"sql": sql, "format": "arrow"})).await;
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = res.bytes().await.unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 300);

    // Parquet, and content negotiation: without `format`, `Accept` chooses (by q).
    let accepting = |accept: &'static str, body: Value| {
        reqwest::Client::new()
            .post(format!("{}/v1/sql", f.url("gateway")))
            .bearer_auth(TOKEN)
            .header("accept", accept)
            .json(&body)
            .send()
    };
    let res = accepting("application/vnd.apache.parquet", json!({"sql": sql}))
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    assert_eq!(res.headers()["x-lakehouse-row-count"], "300");
    let bytes = res.bytes().await.unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300);
    assert_eq!(batches[0].schema().field(1).name(), "region");
    let res = accepting(
        "text/csv;q=0.4, application/x-ndjson",
        json!({"sql": sql, "max_rows": 2}),
    )
    .await
    .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert_eq!(res.text().await.unwrap().lines().count(), 2);
    let res = accepting(
        "text/csv",
        json!({"sql": sql, "max_rows": 1, "format": "json"}),
    )
    .await
    .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/json",
        "the body field wins"
    );
    let res = accepting("image/png", json!({"sql": sql})).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["code"], "not_acceptable", "{e}");

    assert_eq!(
        api.sql_with(json!({"sql": sql, "format": "xml"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.sql_with(json!({"sql": sql, "max_rows": 200_000_000}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.sql_with(json!({"query": sql})).await.0,
        StatusCode::BAD_REQUEST
    );

    // A 1-byte cap: every object is evicted once its query ends, and fetched again next time.
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    let m = queryd_metrics(&f).await;
    assert_eq!(metric(&m, "lakehouse_queryd_cache_objects "), 0.0, "{m}");
    assert!(metric(&m, "lakehouse_queryd_cache_evictions_total ") >= 1.0);
    let misses = metric(&m, "lakehouse_queryd_cache_misses_total ");
    assert_eq!(
        api.rows("SELECT count(*) AS n FROM nums").await[0]["n"],
        300
    );
    let m = queryd_metrics(&f).await;
    assert_eq!(
        metric(&m, "lakehouse_queryd_cache_misses_total "),
        misses + 1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_survives_a_restart() {
    let (mut f, api) = fleet(Storage::Fs, &[]);
    let (st, _) = api.ingest("name=kept", orders(0, 100)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        api.rows("SELECT count(*) AS n FROM kept").await[0]["n"],
        100
    );
    f.restart_all();
    assert_eq!(
        api.rows("SELECT count(*) AS n FROM kept").await[0]["n"],
        100
    );
    let m = queryd_metrics(&f).await;
    assert!(
        m.contains("lakehouse_queryd_cache_misses_total 0\n"),
        "the restarted queryd fetched again:\n{m}"
    );
    assert!(m.contains("lakehouse_queryd_cache_hits_total 1\n"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_rows() {
    let (_f, api) = fleet(Storage::Fs, &[]);
    let csv = orders(0, 1_000_000);
    let (st, a) = api.ingest("name=million", csv).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert_eq!(a["rows"], 1_000_000);
    let r = api.rows("SELECT count(*) AS n, sum(id)::BIGINT AS ids, count(*) FILTER (WHERE paid) AS paid, min(day) AS d0, max(day) AS d1 FROM million").await;
    assert_eq!(
        r[0],
        json!({"n": 1_000_000, "ids": 499_999_500_000u64, "paid": 333_334, "d0": "2024-03-01", "d1": "2024-03-28"})
    );
    let g = api
        .rows("SELECT region, count(*) AS n FROM million GROUP BY region ORDER BY n DESC, region")
        .await;
    assert_eq!(g.len(), 5);
    assert!(g.iter().all(|r| r["n"] == 200_000));
}
