//! Metrics: the figures each service adds (ingestd's ingests, the gateway's upstreams), the
//! batch jobs' textfiles, and `deploy/grafana/lakehouse.json`, which must be valid JSON, cover
//! every service and both jobs, and name only metrics a running fleet (after some traffic)
//! and the jobs actually export.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::fake_chat::FakeChat;
use lakehouse_e2e::{Fleet, SERVERS, Storage, job};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-metrics-token";

/// Metric names in an exposition text: `# TYPE` lines and sample names, histogram suffixes
/// folded into their family.
fn names(text: &str, into: &mut BTreeSet<String>) {
    for line in text.lines() {
        let name = match line.strip_prefix("# TYPE ") {
            Some(rest) => rest.split(' ').next().unwrap_or(""),
            None if line.starts_with('#') || line.is_empty() => continue,
            None => line.split(['{', ' ']).next().unwrap_or(""),
        };
        into.insert(name.to_owned());
    }
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Every `lakehouse_…` name in a PromQL expression.
fn metrics_of(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("lakehouse_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_names_only_metrics_the_fleet_and_jobs_export() {
    let chat = FakeChat::start().await;
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let dir = f.dir.path().to_path_buf();
    let m_file = dir.join("textfiles/materializer.prom");
    let r_file = dir.join("textfiles/replay.prom");
    let jobs = f.jobs_config(
        &format!("metrics_textfile = {:?}\n", m_file.to_str().unwrap()),
        &format!("metrics_textfile = {:?}\nk = 2\n", r_file.to_str().unwrap()),
    );
    f.append_config(&format!(
        "[embed]\nprovider = \"hash\"\ndimension = 32\n\
         [chat]\nurl = \"{}\"\nmodel = \"fake-model\"\nattempts = 1\n{jobs}",
        chat.url
    ));
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);

    // Traffic through every service, good and bad.
    let (st, _) = api.ingest("name=t", "a,b\n1,x\n2,y\n").await;
    assert!(st.is_success());
    let (st, _) = api.ingest("name=t&mode=append", "a,b\n1,x\n2,y\n").await;
    assert!(st.is_success(), "the same bytes again: existing");
    let (st, _) = api.ingest("name=t&mode=append", "c\nz\n").await;
    assert_eq!(st.as_u16(), 409);
    assert_eq!(api.rows("SELECT count(*) AS n FROM t").await[0]["n"], 2);
    let (st, _) = api
        .post("/vectors/index", &json!({"name": "v", "dimension": 2}))
        .await;
    assert!(st.is_success());
    api.post(
        "/vectors/index/v/add",
        &json!({"items": [{"id": "a", "vector": [1, 0]}]}),
    )
    .await;
    api.post(
        "/vectors/index/v/search",
        &json!({"vector": [1, 0], "k": 1}),
    )
    .await;
    api.put(
        "raw/openai_chat/one.jsonl",
        std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../services/materializer/fixtures/openai_chat.jsonl"),
        )
        .unwrap(),
    )
    .await;
    let (st, _) = api.post("/embeddings", &json!({"input": ["x"]})).await;
    assert_eq!(st.as_u16(), 503, "no embeddings server is configured");

    // The jobs write their textfiles.
    job(&f, "materializer", &["run", "--index", "evidence"])
        .await
        .ok();
    job(&f, "replay", &["run", "--prompt", "order 1182?"])
        .await
        .ok();
    let m_text = std::fs::read_to_string(&m_file).unwrap();
    let r_text = std::fs::read_to_string(&r_file).unwrap();
    assert_eq!(
        value(&m_text, "lakehouse_materializer_last_run_success "),
        1.0,
        "{m_text}"
    );
    assert!(
        value(
            &m_text,
            "lakehouse_materializer_last_run_rows{kind=\"openai_chat\",outcome=\"materialized\"}"
        ) > 0.0,
        "{m_text}"
    );
    assert_eq!(
        value(&r_text, "lakehouse_replay_last_run_tasks{verdict=\"pass\"}")
            + value(&r_text, "lakehouse_replay_last_run_tasks{verdict=\"fail\"}"),
        1.0,
        "{r_text}"
    );

    let mut exported = BTreeSet::new();
    names(&m_text, &mut exported);
    names(&r_text, &mut exported);
    let http = reqwest::Client::new();
    let mut texts = std::collections::BTreeMap::new();
    for svc in SERVERS {
        let text = http
            .get(format!("{}/metrics", f.url(svc)))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        names(&text, &mut exported);
        texts.insert(svc, text);
    }
    // The figures this change adds carry what happened.
    let ing = &texts["ingestd"];
    assert_eq!(
        value(ing, "lakehouse_ingestd_ingests_total{outcome=\"ingested\"}"),
        1.0,
        "{ing}"
    );
    assert_eq!(
        value(ing, "lakehouse_ingestd_ingests_total{outcome=\"existing\"}"),
        1.0,
        "{ing}"
    );
    assert_eq!(
        value(
            ing,
            "lakehouse_ingestd_ingests_total{outcome=\"schema_mismatch\"}"
        ),
        1.0,
        "{ing}"
    );
    assert_eq!(value(ing, "lakehouse_ingestd_rows_total "), 2.0, "{ing}");
    assert!(
        value(ing, "lakehouse_ingestd_bytes_total{kind=\"parquet\"}") > 0.0,
        "{ing}"
    );
    assert_eq!(
        value(
            ing,
            "lakehouse_ingestd_phase_seconds_count{phase=\"convert\"}"
        ),
        1.0,
        "{ing}"
    );
    let gw = &texts["gateway"];
    assert!(
        value(
            gw,
            "lakehouse_gateway_upstream_requests_total{upstream=\"queryd\",class=\"2xx\"}"
        ) >= 1.0,
        "{gw}"
    );
    assert!(
        value(
            gw,
            "lakehouse_gateway_upstream_requests_total{upstream=\"ingestd\",class=\"4xx\"}"
        ) >= 1.0,
        "{gw}"
    );
    assert_eq!(
        value(
            gw,
            "lakehouse_gateway_upstream_errors_total{upstream=\"embeddings\",kind=\"not_configured\"}"
        ),
        1.0,
        "{gw}"
    );
    assert!(
        value(
            gw,
            "lakehouse_gateway_upstream_seconds_count{upstream=\"vectord\"}"
        ) >= 3.0,
        "{gw}"
    );

    // The dashboard: valid, every panel's metrics exist, every service and job has panels.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/lakehouse.json");
    let dash: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut used = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            for m in metrics_of(t["expr"].as_str().unwrap()) {
                let family = m.trim_end_matches("_bucket").to_owned();
                assert!(
                    exported.contains(&family) || exported.contains(&m),
                    "panel {:?} names {m}, which nothing exports",
                    p["title"]
                );
                used.insert(family);
            }
        }
    }
    for prefix in [
        "lakehouse_http_",
        "lakehouse_gateway_",
        "lakehouse_storage_",
        "lakehouse_catalog_",
        "lakehouse_ingestd_",
        "lakehouse_queryd_",
        "lakehouse_vector",
        "lakehouse_materializer_",
        "lakehouse_replay_",
    ] {
        assert!(
            used.iter().any(|m| m.starts_with(prefix)),
            "no panel for {prefix}*"
        );
    }
    // And the new families are all on it.
    for m in exported
        .iter()
        .filter(|m| m.starts_with("lakehouse_ingestd_") || m.starts_with("lakehouse_gateway_"))
    {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| m.strip_suffix(s))
            .unwrap_or(m);
        assert!(
            used.contains(m) || used.contains(family),
            "{m} is exported but not on the dashboard"
        );
    }
}
