//! The crash campaign: a stateful service (storaged on fs, catalogd, vectord) is SIGKILLed at
//! a random moment while concurrent writers load it, restarted, and checked: every write it
//! acknowledged is present and whole, and a write it did not acknowledge is either absent or
//! whole, never half-applied. `scripts/bench/crash.sh` runs 100 cycles of each; the test run
//! runs a few.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Fleet, Proc, wait_ready};

const TOKEN: &str = "crash-campaign-token";
const WRITERS: usize = 4;

/// What a campaign found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// SIGKILL cycles run.
    pub cycles: usize,
    /// Writes acknowledged before a kill, all checked after the restart.
    pub acknowledged: usize,
    /// Writes cut by a kill that turned out applied (whole): allowed, counted.
    pub unacknowledged_applied: usize,
    /// Writes cut by a kill that were not applied.
    pub unacknowledged_absent: usize,
    /// Time from restart to `/ready`, per cycle.
    pub restart_ms: Vec<u64>,
}

impl Report {
    /// One line of figures.
    pub fn line(&self, service: &str) -> String {
        let mut r = self.restart_ms.clone();
        r.sort_unstable();
        let p50 = r.get(r.len() / 2).copied().unwrap_or(0);
        let max = r.last().copied().unwrap_or(0);
        format!(
            "crash {service}: {} cycles, {} acknowledged writes all present, {} cut writes applied whole, {} cut writes absent, none torn; restart to ready p50 {p50} ms, max {max} ms",
            self.cycles, self.acknowledged, self.unacknowledged_applied, self.unacknowledged_absent
        )
    }
}

/// One write: its identity and whether it was acknowledged.
#[derive(Debug, Clone)]
struct Attempt {
    key: String,
    acked: bool,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The bytes object `key` must hold: derived from the key, long enough to span buffers.
fn content(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(300 << 10);
    while out.len() < (300 << 10) {
        out.extend_from_slice(key.as_bytes());
        out.push(b'\n');
    }
    out
}

fn vector(n: usize) -> Vec<f32> {
    let a = (n as f32) * 0.618;
    vec![a.cos(), a.sin(), 1.0, (n % 7) as f32]
}

/// Runs `cycles` kill cycles against `service`.
pub async fn campaign(service: &'static str, cycles: usize, seed: u64) -> Report {
    let mut fleet = Fleet::new(Some(TOKEN), "");
    let needs: &[&'static str] = match service {
        "storaged" => &["storaged"],
        "catalogd" => &["storaged", "catalogd"],
        "vectord" => &["storaged", "vectord"],
        other => panic!("no crash campaign for {other}"),
    };
    fleet.start(needs);
    let base = fleet.url(service);
    let http = client();
    if service == "vectord" {
        let res = http
            .post(format!("{base}/vectors/index"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "crash", "dimension": 4}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let mut rng = seed;
    let mut report = Report::default();
    let mut all: Vec<Attempt> = Vec::new();
    for cycle in 0..cycles {
        let log: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (log, stop, http, base) = (log.clone(), stop.clone(), http.clone(), base.clone());
            writers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("c{cycle}-w{w}-{n}");
                    let acked = write(
                        &http,
                        &base,
                        service,
                        &key,
                        cycle * 100_000 + w * 10_000 + n,
                    )
                    .await;
                    log.lock().unwrap().push(Attempt { key, acked });
                    if !acked {
                        break;
                    }
                    n += 1;
                }
            }));
        }
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 150 + (rng >> 33) % 450;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(fleet.proc(service));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        let started = Instant::now();
        let p = fleet.spawn(service);
        fleet.procs.retain(|(n, _)| *n != service);
        fleet.procs.push((service, p));
        wait_ready(&base, Duration::from_secs(60));
        report.restart_ms.push(started.elapsed().as_millis() as u64);
        all.extend(log.lock().unwrap().drain(..));
        // Every write so far, this cycle's and all before: acknowledged ones must stay.
        let state = observe(&http, &base, service, cycle + 1).await;
        for a in &all {
            match (a.acked, state.get(&a.key)) {
                (true, Some(true)) => {}
                (true, other) => panic!(
                    "{service} cycle {cycle}: acknowledged write {} is {other:?} after a SIGKILL",
                    a.key
                ),
                (false, Some(false)) => panic!(
                    "{service} cycle {cycle}: cut write {} is half-applied",
                    a.key
                ),
                (false, _) => {}
            }
        }
        report.cycles += 1;
    }
    let state = observe(&http, &base, service, cycles).await;
    for a in &all {
        if a.acked {
            report.acknowledged += 1;
        } else if state.get(&a.key) == Some(&true) {
            report.unacknowledged_applied += 1;
        } else {
            report.unacknowledged_absent += 1;
        }
    }
    report
}

fn kill(p: &mut Proc) {
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// One write; true when the service acknowledged it.
async fn write(http: &reqwest::Client, base: &str, service: &str, key: &str, n: usize) -> bool {
    let req = match service {
        "storaged" => http
            .put(format!("{base}/storage/objects/crash/{key}"))
            .body(content(key)),
        "catalogd" => http.post(format!("{base}/catalog/append")).json(&json!({
            "name": "crash", "schema_fingerprint": "fp", "create": true,
            "schema": [{"name": "n", "type": "BIGINT", "nullable": false}],
            "objects": [{"key": format!("crash/{key}.parquet"), "size": 10, "row_count": 1}],
        })),
        _ => http
            .post(format!("{base}/vectors/index/crash/add"))
            .json(&json!({
                "items": [{"id": key, "vector": vector(n), "metadata": {"n": n}}],
            })),
    };
    matches!(req.bearer_auth(TOKEN).send().await, Ok(r) if r.status().is_success())
}

/// What the service holds now: key → whole (true) or torn (false).
async fn observe(
    http: &reqwest::Client,
    base: &str,
    service: &str,
    cycles: usize,
) -> BTreeMap<String, bool> {
    let get = |url: String| async move {
        let r = http.get(url).bearer_auth(TOKEN).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap())
    };
    let mut out = BTreeMap::new();
    match service {
        "storaged" => {
            let mut after: Option<String> = None;
            loop {
                let q = after
                    .as_ref()
                    .map(|a| format!("&after={a}"))
                    .unwrap_or_default();
                let (_, body) = get(format!("{base}/storage/list?prefix=crash/{q}")).await;
                let v: Value = serde_json::from_slice(&body).unwrap();
                for o in v["objects"].as_array().unwrap() {
                    let key = o["key"].as_str().unwrap().to_owned();
                    let (_, bytes) = get(format!("{base}/storage/objects/{key}")).await;
                    let name = key.trim_start_matches("crash/").to_owned();
                    out.insert(name.clone(), bytes.as_ref() == content(&name).as_slice());
                }
                if v["truncated"] != true {
                    break;
                }
                after = v["next_after"].as_str().map(str::to_owned);
            }
        }
        "catalogd" => {
            let (status, body) = get(format!("{base}/catalog/manifest/crash")).await;
            if status == 200 {
                let m: Value = serde_json::from_slice(&body).unwrap();
                let objects = m["objects"].as_array().unwrap();
                let rows = m["row_count"].as_u64().unwrap();
                let whole = rows == objects.len() as u64;
                for o in objects {
                    let k = o["key"].as_str().unwrap();
                    let name = k.trim_start_matches("crash/").trim_end_matches(".parquet");
                    assert!(
                        out.insert(name.to_owned(), whole).is_none(),
                        "object {k} listed twice"
                    );
                }
            }
        }
        _ => {
            let (_, body) = get(format!("{base}/vectors/index/crash")).await;
            let info: Value = serde_json::from_slice(&body).unwrap();
            let length = info["length"].as_u64().unwrap_or(0);
            // Ids are probed by name: every id a writer tried is c<cycle>-w<w>-<n>.
            let mut found = 0;
            for cycle in 0..cycles {
                for w in 0..WRITERS {
                    for n in 0.. {
                        let key = format!("c{cycle}-w{w}-{n}");
                        let (status, body) =
                            get(format!("{base}/vectors/index/crash/items/{key}")).await;
                        if status != 200 {
                            break;
                        }
                        found += 1;
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        let want = (cycle * 100_000 + w * 10_000 + n) as u64;
                        out.insert(key, v["metadata"]["n"] == want);
                    }
                }
            }
            assert_eq!(found, length, "vectord holds items no writer sent");
        }
    }
    out
}
