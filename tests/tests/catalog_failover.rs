//! catalogd as an active/standby pair over one storage, on loopback: the standby turns every
//! request away (the gateway and the services' clients move on to the leader), takes over
//! when the leader is killed with SIGKILL under write load, and no acknowledged commit is
//! lost or made twice; the 503 window clients see is about one lease long.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, Proc, SERVERS, Storage, free_port, spawn_with};
use serde_json::{Value, json};

const TOKEN: &str = "failover-token-3c9e1a7b5d2f4e6a";
const LEASE_MS: u64 = 1_500;

/// What one writer saw: datasets acknowledged, and the longest stretch without a success.
#[derive(Default)]
struct Written {
    acknowledged: Vec<String>,
    longest_gap: Duration,
    refusals: BTreeMap<u16, usize>,
}

/// Creates datasets `{w}-{i}` one after another (each create-only: `expected_version` 0)
/// until `stop`, retrying each one until an answer says whether it is committed.
async fn writer(api: Api, w: usize, stop: Arc<AtomicBool>) -> Written {
    let mut out = Written::default();
    let mut last_ok = Instant::now();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let name = format!("w{w}_{i}");
        let body = json!({"name": name, "schema_fingerprint": "fp",
            "schema": [{"name": "n", "type": "BIGINT", "nullable": true}],
            "objects": [{"key": format!("datasets/{name}/part-0.parquet"), "size": 8, "row_count": 1}],
            "expected_version": 0});
        loop {
            let (st, v) = api.post("/catalog/register", &body).await;
            let committed = st.is_success()
                // An earlier try landed though its answer was lost (the leader died after
                // writing the commit): the create-only retry says so.
                || (st == 409 && v["error"]["code"] == "version_conflict");
            if committed {
                out.acknowledged.push(name.clone());
                out.longest_gap = out.longest_gap.max(last_ok.elapsed());
                last_ok = Instant::now();
                break;
            }
            assert!(
                st == 502 || st == 503 || st == 504,
                "only a short unavailability is acceptable: {st} {v}"
            );
            *out.refusals.entry(st.as_u16()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        i += 1;
    }
    out
}

fn with_catalogd_pair(text: &str, first: &str, second: &str) -> String {
    text.replace(
        &format!("catalogd_url = \"{first}\""),
        &format!("catalogd_url = [\"{first}\", \"{second}\"]"),
    )
}

async fn health_of(api: &Api) -> Vec<(String, usize, String)> {
    let (_, v) = api.get("/health").await;
    v["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == "catalogd")
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_owned(),
                s["instance"].as_u64().unwrap() as usize,
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_standby_takes_over_a_killed_leader_and_no_commit_is_lost_or_doubled() {
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[
            ("gateway", "health_interval_ms = 200"),
            ("catalogd", &format!("lease_ms = {LEASE_MS}")),
        ],
        "",
    );
    let b_port = free_port();
    let (a_url, b_url) = (f.url("catalogd"), format!("http://127.0.0.1:{b_port}"));
    let text = std::fs::read_to_string(&f.config).unwrap();
    let paired = with_catalogd_pair(&text, &a_url, &b_url);
    std::fs::write(&f.config, &paired).unwrap();
    let second = f.dir.path().join("second.toml");
    std::fs::write(
        &second,
        paired.replace(
            &format!("bind = \"127.0.0.1:{}\"", f.port("catalogd")),
            &format!("bind = \"127.0.0.1:{b_port}\""),
        ),
    )
    .unwrap();
    f.start(&SERVERS);
    let dir = f.dir.path().to_path_buf();
    let spawn_b = || -> Proc { spawn_with("catalogd", &second, &dir, &[]) };
    let mut b = spawn_b();
    let http = reqwest::Client::new();
    let api = Api::new(&f.url("gateway"), TOKEN);

    // The standby answers /health, turns everything else away, and names the leader.
    let deadline = Instant::now() + Duration::from_secs(20);
    let refusal = loop {
        if let Ok(r) = http
            .get(format!("{b_url}/catalog/list"))
            .bearer_auth(TOKEN)
            .send()
            .await
        {
            break r;
        }
        assert!(Instant::now() < deadline, "the standby never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.headers()["x-lakehouse-role"], "standby");
    let v: Value = refusal.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_leader", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds the catalog lease"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut statuses: Vec<String> = health_of(&api).await.into_iter().map(|s| s.2).collect();
    statuses.sort();
    assert_eq!(statuses, ["ready", "standby"]);
    let (st, v) = api.get("/health").await;
    assert_eq!(
        (st.as_u16(), v["status"].as_str()),
        (200, Some("ready")),
        "{v}"
    );

    // Write load through the gateway, then SIGKILL the leader in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(writer(api.clone(), w, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = api.get("/catalog/version").await.1["version"]
        .as_u64()
        .unwrap();
    assert!(
        before >= 4,
        "the load committed only {before} before the kill"
    );
    let killed_at = Instant::now();
    f.stop("catalogd", true);
    // Past the takeover, and a while of writes to the new leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, v) = api.get("/catalog/version").await;
        if st == 200 && v["version"].as_u64().unwrap() >= before + 20 {
            break;
        }
        assert!(Instant::now() < deadline, "no takeover: {st} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = killed_at.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    let mut longest = Duration::ZERO;
    let mut refusals: BTreeMap<u16, usize> = BTreeMap::new();
    for w in writers {
        let out = w.await.unwrap();
        acknowledged.extend(out.acknowledged);
        longest = longest.max(out.longest_gap);
        for (k, n) in out.refusals {
            *refusals.entry(k).or_default() += n;
        }
    }
    println!(
        "failover: {} commits acknowledged, the new leader serving {:.2} s after the kill \
         (lease {LEASE_MS} ms); longest wait of a writer {:.2} s; refusals by status {refusals:?}",
        acknowledged.len(),
        took_over.as_secs_f64(),
        longest.as_secs_f64()
    );
    assert!(
        longest < Duration::from_millis(LEASE_MS * 4),
        "writers waited {longest:?} for the takeover"
    );

    // Every acknowledged create is in the catalog, each made by exactly one commit, and the
    // versions run without a gap or a repeat.
    let mut log = Vec::new();
    let mut after = 0;
    loop {
        let (st, v) = api
            .get(&format!("/catalog/log?after={after}&limit=1000"))
            .await;
        assert_eq!(st, 200, "{v}");
        log.extend(v["commits"].as_array().unwrap().iter().cloned());
        match v["next_after"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let versions: Vec<u64> = log.iter().map(|c| c["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    let mut made: BTreeMap<String, usize> = BTreeMap::new();
    for c in &log {
        for ch in c["changes"].as_array().unwrap() {
            *made
                .entry(ch["name"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert!(made.values().all(|&n| n == 1), "a dataset committed twice");
    for name in &acknowledged {
        assert_eq!(
            made.get(name),
            Some(&1),
            "{name} acknowledged, not committed"
        );
        let (st, m) = api.get(&format!("/catalog/manifest/{name}")).await;
        assert_eq!(st, 200, "{name}: {m}");
    }
    // At most one create per writer was committed but never acknowledged (the one in flight
    // when the writers stopped).
    assert!(made.len() <= acknowledged.len() + 4);

    // The services follow the leader too: an ingest (ingestd → catalogd) and a query.
    let (st, v) = api.ingest("name=after_failover", "n\n1\n2\n").await;
    assert!(st.is_success(), "{v}");
    let (st, v) = api.sql("SELECT sum(n) AS s FROM after_failover").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rows"][0]["s"], 3);

    // The old leader, restarted, stands by; the fleet is ready with one of each.
    f.respawn("catalogd");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health_of(&api).await;
        if h.iter().any(|s| s.1 == 0 && s.2 == "standby") {
            assert!(h.iter().any(|s| s.1 == 1 && s.2 == "ready"), "{h:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the restarted instance: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.child.kill().unwrap();
    b.child.wait().unwrap();
}
