//! Several instances of the stateless services behind one gateway, on loopback: requests are
//! balanced over them, an instance killed with SIGKILL is taken out at once (its requests go
//! to the other, none fails), the fleet reports itself degraded, and the instance is put back
//! when it answers again.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, Proc, SERVERS, Storage, free_port, spawn_with, wait_ready};
use serde_json::{Value, json};

const TOKEN: &str = "scale-token-7e1d3c5a9b2f4d6e";

/// Requests `service` at `url` has served on `route` (from its own metrics).
async fn served(http: &reqwest::Client, url: &str, route: &str) -> u64 {
    let text = http
        .get(format!("{url}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("lakehouse_http_requests_total{"))
        .filter(|l| l.contains(&format!("route=\"{route}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_services_balance_and_survive_a_killed_instance() {
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[("gateway", "health_interval_ms = 200")],
        "",
    );
    // A second queryd and ingestd: own ports, own cache and temp directories.
    let (q2, i2) = (free_port(), free_port());
    let text = std::fs::read_to_string(&f.config).unwrap();
    // The gateway lists both instances of the two services that scale.
    let mut gateway = text.clone();
    for (svc, port) in [("queryd", q2), ("ingestd", i2)] {
        let one = format!("{svc}_url = \"{}\"\n", f.url(svc));
        let many = format!(
            "{svc}_url = [\"{}\", \"http://127.0.0.1:{port}\"]\n",
            f.url(svc)
        );
        let at = gateway.find(&one).expect("the gateway's url line");
        gateway.replace_range(at..at + one.len(), &many);
    }
    std::fs::write(&f.config, &gateway).unwrap();
    let dir = f.dir.path().to_path_buf();
    let second = dir.join("second.toml");
    let second_text = text
        .replace(
            &format!("bind = \"127.0.0.1:{}\"", f.port("queryd")),
            &format!("bind = \"127.0.0.1:{q2}\""),
        )
        .replace(
            &format!("bind = \"127.0.0.1:{}\"", f.port("ingestd")),
            &format!("bind = \"127.0.0.1:{i2}\""),
        )
        .replace("/cache\"", "/cache-2\"")
        .replace("/ingest-tmp\"", "/ingest-tmp-2\"");
    std::fs::write(&second, second_text).unwrap();
    f.start(&SERVERS);
    let q2_url = format!("http://127.0.0.1:{q2}");
    let i2_url = format!("http://127.0.0.1:{i2}");
    let start_second = |name: &str, url: &str| -> Proc {
        let p = spawn_with(name, &second, &dir, &[]);
        wait_ready(url, Duration::from_secs(30));
        p
    };
    let mut queryd_b = start_second("queryd", &q2_url);
    let _ingestd_b = start_second("ingestd", &i2_url);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let http = reqwest::Client::new();

    // Balanced: both ingestd and both queryd serve.
    for i in 0..8 {
        let (st, v) = api
            .ingest(&format!("name=part{i}"), format!("n\n{i}\n"))
            .await;
        assert!(st.is_success(), "{v}");
    }
    for _ in 0..20 {
        let (st, v) = api.sql("SELECT count(*) AS n FROM part3").await;
        assert_eq!(st, 200, "{v}");
    }
    let ingest_a = served(&http, &f.url("ingestd"), "/ingest").await;
    let ingest_b = served(&http, &i2_url, "/ingest").await;
    assert_eq!(ingest_a + ingest_b, 8);
    assert!(ingest_a > 0 && ingest_b > 0, "{ingest_a} / {ingest_b}");
    let (sql_a, sql_b) = (
        served(&http, &f.url("queryd"), "/sql").await,
        served(&http, &q2_url, "/sql").await,
    );
    assert!(sql_a >= 5 && sql_b >= 5, "{sql_a} / {sql_b}");

    // SIGKILL one queryd: not one request fails, even the first after the kill.
    queryd_b.child.kill().unwrap();
    queryd_b.child.wait().unwrap();
    for i in 0..30 {
        let (st, v) = api.sql("SELECT count(*) AS n FROM part5").await;
        assert_eq!(st, 200, "query {i} after the kill: {v}");
        assert_eq!(v["rows"][0]["n"], 1);
        let (st, v) = api.get("/sql/tables").await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, health) = api.get("/health").await;
    assert_eq!(st, 200, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    let entry = health["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "queryd" && s["instance"] == 1)
        .unwrap()
        .clone();
    assert_eq!(entry["status"], "unreachable", "{entry}");
    let ready = http
        .get(format!("{}/ready", f.url("gateway")))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "one queryd is enough to be ready");

    // Back on its port: put back in, and serving again.
    let _queryd_b = start_second("queryd", &q2_url);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, _) = api.sql("SELECT 1 AS one").await;
        assert_eq!(st, 200);
        if served(&http, &q2_url, "/sql").await > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the instance was never put back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, health) = api.get("/health").await;
    assert_eq!(health["status"], "ready", "{health}");

    // Every queryd gone: a clear 502, and not ready.
    f.stop("queryd", true);
    drop(_queryd_b);
    let (st, v) = api.sql_with(json!({"sql": "SELECT 1"})).await;
    assert_eq!(st, 502, "{v}");
    assert_eq!(v["error"]["code"], "upstream_unavailable", "{v}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .get(format!("{}/ready", f.url("gateway")))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            let v: Value = r.json().await.unwrap();
            assert!(v["reasons"].to_string().contains("queryd"), "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "still ready with no queryd");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
