//! The crash campaign: a stateful service (storaged on fs, catalogd, vectord) is SIGKILLed at
//! a random moment while concurrent writers load it, restarted, and checked: every write it
//! acknowledged is present and whole, and a write it did not acknowledge is either absent or
//! whole, never half-applied. `scripts/bench/crash.sh` runs 100 cycles of each; the test run
//! runs a few.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Fleet, wait_ready};

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
    let mut out = Vec::with_capacity(64 << 10);
    while out.len() < (64 << 10) {
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
    // Every write found applied after some restart: it must stay so after every later one.
    let mut present: BTreeSet<String> = BTreeSet::new();
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
                    let acked = write(&http, &base, service, &key).await;
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
        fleet.stop(service, true);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        let started = Instant::now();
        fleet.respawn(service);
        wait_ready(&base, Duration::from_secs(60));
        report.restart_ms.push(started.elapsed().as_millis() as u64);
        let attempts: Vec<Attempt> = log.lock().unwrap().drain(..).collect();
        let applied = verify(&http, &base, service, cycle, &attempts, &present).await;
        for a in &attempts {
            if a.acked {
                report.acknowledged += 1;
            } else if applied.contains(&a.key) {
                report.unacknowledged_applied += 1;
            } else {
                report.unacknowledged_absent += 1;
            }
        }
        present.extend(applied);
        report.cycles += 1;
    }
    report
}

/// One write; true when the service acknowledged it.
async fn write(http: &reqwest::Client, base: &str, service: &str, key: &str) -> bool {
    let n = number(key);
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

/// Checks the service after a restart: every write found before is still there, each of this
/// cycle's acknowledged writes is there and whole, a cut one is absent or whole, and nothing
/// else is. Reads what changed this cycle in full and the rest by listing, so a campaign's
/// cost stays linear in its writes. The keys of this cycle's writes that are applied.
async fn verify(
    http: &reqwest::Client,
    base: &str,
    service: &str,
    cycle: usize,
    attempts: &[Attempt],
    before: &BTreeSet<String>,
) -> BTreeSet<String> {
    let get = |url: String| async move {
        let r = http.get(url).bearer_auth(TOKEN).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap())
    };
    let ctx = format!("{service} cycle {cycle}");
    // key → whole, for every write of this cycle found applied.
    let mut now: BTreeMap<String, bool> = BTreeMap::new();
    match service {
        "storaged" => {
            let mut listed: BTreeMap<String, u64> = BTreeMap::new();
            let mut after: Option<String> = None;
            loop {
                let q = after
                    .as_ref()
                    .map(|a| format!("&after={a}"))
                    .unwrap_or_default();
                let (_, body) = get(format!("{base}/storage/list?prefix=crash/{q}")).await;
                let v: Value = serde_json::from_slice(&body).unwrap();
                for o in v["objects"].as_array().unwrap() {
                    let key = o["key"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("crash/")
                        .to_owned();
                    listed.insert(key, o["size"].as_u64().unwrap());
                }
                if v["truncated"] != true {
                    break;
                }
                after = v["next_after"].as_str().map(str::to_owned);
            }
            for k in before {
                assert_eq!(
                    listed.get(k).copied(),
                    Some(content(k).len() as u64),
                    "{ctx}: earlier object {k} lost or changed"
                );
            }
            for a in attempts {
                if listed.contains_key(&a.key) {
                    let (_, bytes) = get(format!("{base}/storage/objects/crash/{}", a.key)).await;
                    now.insert(a.key.clone(), bytes.as_ref() == content(&a.key).as_slice());
                }
            }
            assert_eq!(
                listed.len(),
                before.len() + now.len(),
                "{ctx}: objects nobody wrote"
            );
        }
        "catalogd" => {
            let (status, body) = get(format!("{base}/catalog/manifest/crash")).await;
            let mut keys = BTreeSet::new();
            if status == 200 {
                let m: Value = serde_json::from_slice(&body).unwrap();
                let objects = m["objects"].as_array().unwrap();
                let whole = m["row_count"].as_u64().unwrap() == objects.len() as u64;
                for o in objects {
                    let k = o["key"].as_str().unwrap();
                    let name = k
                        .trim_start_matches("crash/")
                        .trim_end_matches(".parquet")
                        .to_owned();
                    assert!(keys.insert(name.clone()), "{ctx}: object {k} listed twice");
                    if !before.contains(&name) {
                        now.insert(name, whole);
                    }
                }
            }
            for k in before {
                assert!(keys.contains(k), "{ctx}: earlier append {k} lost");
            }
            assert_eq!(keys.len(), before.len() + now.len());
        }
        _ => {
            for a in attempts {
                let (status, body) =
                    get(format!("{base}/vectors/index/crash/items/{}", a.key)).await;
                if status == 200 {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    now.insert(a.key.clone(), v["metadata"]["n"] == json!(number(&a.key)));
                }
            }
            // Ids are never reused: the length counts exactly the earlier writes and this
            // cycle's, so none of the earlier ones can be missing.
            let (_, body) = get(format!("{base}/vectors/index/crash")).await;
            let info: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                info["length"].as_u64(),
                Some((before.len() + now.len()) as u64),
                "{ctx}: {info}"
            );
        }
    }
    for a in attempts {
        match (a.acked, now.get(&a.key)) {
            (_, Some(true)) => {}
            (true, other) => panic!(
                "{ctx}: acknowledged write {} is {other:?} after a SIGKILL",
                a.key
            ),
            (false, Some(false)) => panic!("{ctx}: cut write {} is half-applied", a.key),
            (false, None) => {}
        }
    }
    assert!(
        now.keys().all(|k| attempts.iter().any(|a| &a.key == k)),
        "{ctx}: writes nobody sent"
    );
    now.into_keys().collect()
}

/// The number a write's key stands for (`c<cycle>-w<writer>-<n>`), as its metadata holds it.
fn number(key: &str) -> usize {
    let mut parts = key
        .split('-')
        .map(|p| p.trim_start_matches(['c', 'w']).parse::<usize>().unwrap());
    let (c, w, n) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    c * 100_000 + w * 10_000 + n
}
