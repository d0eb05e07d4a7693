//! Large SQL answers are streamed batch by batch through the real gateway and queryd: every
//! format arrives whole and readable by its own reader, truncation still works, a query that
//! fails after streaming began never looks like a whole answer, and a client that goes away
//! mid-answer frees its connection for the next query.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage};
use serde_json::{Value, json};

const TOKEN: &str = "stream-token-3c9e1a7d5b2f4e6a";
const ROWS: u64 = 400_000;

fn words(n: u64) -> String {
    let mut s = String::from("id,word\n");
    for i in 0..n {
        s.push_str(&format!("{i},w{}\n", i % 1000));
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn large_answers_stream_in_every_format() {
    // One DuckDB connection: a query that leaked its connection would block the next one.
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[
            ("queryd", "max_concurrent_queries = 1"),
            ("queryd", "query_timeout_ms = 60000"),
        ],
        "",
    );
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let (st, v) = api.ingest("name=big", words(ROWS)).await;
    assert!(st.is_success(), "{v}");
    let sql = "SELECT id, word FROM big ORDER BY id";

    // JSON: streamed (well over 4 MiB), with the count after the rows.
    let res = api.sql_raw(json!({"sql": sql, "max_rows": ROWS})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-lakehouse-streamed"], "true");
    assert!(res.headers().get("x-lakehouse-row-count").is_none());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["row_count"], ROWS);
    assert_eq!(v["truncated"], false);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, ROWS);
    assert_eq!(rows[123_456], json!({"id": 123_456, "word": "w456"}));
    let sum: u64 = rows.iter().map(|r| r["id"].as_u64().unwrap()).sum();
    assert_eq!(sum, ROWS * (ROWS - 1) / 2, "every row once");

    // Truncation while streaming.
    let (st, v) = api.sql_with(json!({"sql": sql, "max_rows": 300_000})).await;
    assert_eq!(st, 200);
    assert_eq!(
        (v["row_count"].clone(), v["truncated"].clone()),
        (json!(300_000), json!(true))
    );
    assert_eq!(v["rows"].as_array().unwrap().len(), 300_000);
    assert_eq!(v["rows"][299_999]["id"], 299_999);

    // NDJSON and CSV.
    let text = api
        .sql_raw(json!({"sql": sql, "format": "ndjson", "max_rows": ROWS}))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, ROWS);
    assert_eq!(
        serde_json::from_str::<Value>(lines[ROWS as usize - 1]).unwrap(),
        json!({"id": ROWS - 1, "word": "w999"})
    );
    let res = api
        .sql_raw(json!({"sql": sql, "format": "csv", "max_rows": ROWS}))
        .await;
    assert_eq!(res.headers()["x-lakehouse-streamed"], "true");
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, ROWS + 1, "one header, then every row");
    assert_eq!(lines[0], "id,word");
    assert_eq!(lines[ROWS as usize], format!("{},w999", ROWS - 1));

    // Arrow IPC and Parquet, read by their own readers.
    let bytes = api
        .sql_raw(json!({"sql": sql, "format": "arrow", "max_rows": ROWS}))
        .await
        .bytes()
        .await
        .unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n as u64, ROWS);
    let bytes = api
        .sql_raw(json!({"sql": "SELECT id, word, id * 2 AS twice FROM big", "format": "parquet", "max_rows": ROWS}))
        .await
        .bytes()
        .await
        .unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    assert!(
        reader.metadata().num_row_groups() > 1,
        "written in row groups as it streamed"
    );
    let n: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n as u64, ROWS);

    // A failure late in the result: an error answer if it came before streaming began,
    // else a body broken off. Never a 200 whose body reads as whole.
    let failing = "SELECT id, word, CAST(CASE WHEN id < 390000 THEN '1' ELSE 'x' END AS INTEGER) AS n \
                   FROM big ORDER BY id";
    let res = api.sql_raw(json!({"sql": failing, "max_rows": ROWS})).await;
    let status = res.status();
    let body = res.bytes().await;
    match (status.as_u16(), body) {
        (400, Ok(b)) => {
            let v: Value = serde_json::from_slice(&b).unwrap();
            assert_eq!(v["error"]["code"], "sql_error", "{v}");
        }
        (200, Ok(b)) => panic!(
            "a failed query answered 200 with a whole body of {} bytes",
            b.len()
        ),
        (200, Err(_)) => {}
        (s, b) => panic!("unexpected answer {s}: {b:?}"),
    }

    // A client that goes away mid-answer: its query stops and frees the one connection.
    let mut res = api
        .sql_raw(json!({"sql": sql, "format": "csv", "max_rows": ROWS}))
        .await;
    let _first = res.chunk().await.unwrap();
    drop(res);
    let answered = tokio::time::timeout(
        Duration::from_secs(30),
        api.sql("SELECT count(*) AS n FROM big"),
    )
    .await
    .expect("the next query ran: the abandoned one let its connection go");
    assert_eq!(answered.1["rows"][0]["n"], ROWS, "{:?}", answered.1);

    // Small answers are still whole, with their headers.
    let res = api
        .sql_raw(json!({"sql": "SELECT 1 AS one", "format": "csv"}))
        .await;
    assert!(res.headers().get("x-lakehouse-streamed").is_none());
    assert_eq!(res.headers()["x-lakehouse-row-count"], "1");
    assert_eq!(res.text().await.unwrap(), "one\n1\n");
    drop(f);
}
