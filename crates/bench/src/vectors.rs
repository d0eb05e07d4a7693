//! vectord through the gateway, for `scripts/bench/vectors.sh`: loading an index, search
//! requests/s and latency at a fixed number of clients, and a mixed load of searches and small
//! upserts into a small and a large index at once, counting every error.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{print, report_latencies};

/// SplitMix64, so every run loads the same vectors.
#[derive(Clone)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A vector near one of 200 topic centres (derived from the seed), as JSON.
fn vector_json(r: &mut Rng, dim: usize, out: &mut String) {
    let topic = r.next() % 200;
    let mut c = Rng(topic.wrapping_mul(7919) + 1);
    out.push('[');
    for j in 0..dim {
        if j > 0 {
            out.push(',');
        }
        let _ = write!(out, "{:.4}", c.unit() + 0.3 * r.unit());
    }
    out.push(']');
}

/// The gateway's vector routes with a token.
#[derive(Clone)]
pub(crate) struct Vectors {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Vectors {
    /// A client for the gateway at `base` (no `/v1`).
    pub(crate) fn new(base: String, token: Option<String>) -> Self {
        Self {
            base,
            token,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .timeout(Duration::from_secs(600))
                .build()
                .expect("client"),
        }
    }

    async fn post(&self, path: &str, body: String) -> Result<(), String> {
        let mut r = self
            .http
            .post(format!("{}/v1/vectors{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        let text = res.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{status}: {text}"))
        }
    }

    /// Creates `index` (dropping an old one of that name) and adds `n` vectors in batches.
    pub(crate) async fn load(&self, index: &str, n: usize, dim: usize, batch: usize) {
        let mut r = self
            .http
            .delete(format!("{}/v1/vectors/index/{index}", self.base));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let _ = r.send().await;
        self.post(
            "/index",
            format!("{{\"name\":\"{index}\",\"dimension\":{dim}}}"),
        )
        .await
        .expect("create");
        let mut rng = Rng(1);
        let start = Instant::now();
        for from in (0..n).step_by(batch) {
            let mut body = String::from("{\"items\":[");
            for i in from..n.min(from + batch) {
                if i > from {
                    body.push(',');
                }
                let _ = write!(body, "{{\"id\":\"v{i}\",\"vector\":");
                vector_json(&mut rng, dim, &mut body);
                let _ = write!(body, ",\"metadata\":{{\"group\":{}}}}}", i % 10);
            }
            body.push_str("]}");
            self.post(&format!("/index/{index}/add"), body)
                .await
                .expect("add");
        }
        let secs = start.elapsed().as_secs_f64();
        print(index, "load_seconds", secs, "s");
        print(index, "load_vectors_per_s", n as f64 / secs, "vectors/s");
    }
}

/// `clients` clients searching `index` (k=10) for `seconds`.
pub(crate) async fn search(v: Vectors, index: String, dim: usize, clients: usize, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for c in 0..clients {
        let (v, index, errors) = (v.clone(), index.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(1000 + c as u64);
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let mut body = String::from("{\"vector\":");
                vector_json(&mut rng, dim, &mut body);
                body.push_str(",\"k\":10}");
                let s = Instant::now();
                if v.post(&format!("/index/{index}/search"), body)
                    .await
                    .is_err()
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(s.elapsed().as_secs_f64());
            }
            lat
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    let label = format!("search-{clients}-clients");
    report_latencies(&label, all, start.elapsed().as_secs_f64());
    print(&label, "errors", errors.load(Ordering::Relaxed) as f64, "");
}

/// `clients` clients for `seconds`: each request is a search (4 in 5) or an upsert of 1–4
/// items (1 in 5, ids reused so some replace), on `small` or `large` at random.
pub(crate) async fn mixed(
    v: Vectors,
    small: String,
    large: String,
    dim: usize,
    clients: usize,
    seconds: u64,
) {
    // The small index starts at a handful of items and stays small: the sizes where the
    // reference design crashed.
    v.post(
        "/index",
        format!("{{\"name\":\"{small}\",\"dimension\":{dim}}}"),
    )
    .await
    .ok();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let mut workers = Vec::new();
    for c in 0..clients {
        let (v, small, large, counts) = (v.clone(), small.clone(), large.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(5000 + c as u64);
            let mut lat = Vec::new();
            let mut first_error = None;
            while Instant::now() < deadline {
                let index = if rng.next().is_multiple_of(2) {
                    &small
                } else {
                    &large
                };
                let write = rng.next().is_multiple_of(5);
                let (path, body) = if write {
                    let n = 1 + rng.next() % 4;
                    let mut body = String::from("{\"items\":[");
                    for i in 0..n {
                        if i > 0 {
                            body.push(',');
                        }
                        let _ = write!(body, "{{\"id\":\"m{}\",\"vector\":", rng.next() % 64);
                        vector_json(&mut rng, dim, &mut body);
                        body.push('}');
                    }
                    body.push_str("]}");
                    (format!("/index/{index}/add"), body)
                } else {
                    let mut body = String::from("{\"vector\":");
                    vector_json(&mut rng, dim, &mut body);
                    body.push_str(",\"k\":10}");
                    (format!("/index/{index}/search"), body)
                };
                let s = Instant::now();
                let res = v.post(&path, body).await;
                lat.push(s.elapsed().as_secs_f64());
                counts[usize::from(write)].fetch_add(1, Ordering::Relaxed);
                if let Err(e) = res {
                    counts[2 + usize::from(write)].fetch_add(1, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
            }
            (lat, first_error)
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    let mut first_error = None;
    for w in workers {
        let (lat, e) = w.await.expect("worker");
        all.extend(lat);
        first_error = first_error.or(e);
    }
    let secs = start.elapsed().as_secs_f64();
    let label = format!("mixed-{clients}-clients");
    let names = ["searches", "upserts", "search_errors", "upsert_errors"];
    for (name, n) in names.iter().zip(counts.iter()) {
        print(&label, name, n.load(Ordering::Relaxed) as f64, "");
    }
    report_latencies(&label, all, secs);
    if let Some(e) = first_error {
        println!("{label} first_error {e}");
    }
}
