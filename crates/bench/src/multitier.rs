//! The multitier load test (`scripts/bench/multitier.sh`): the reference harness's six
//! scenarios, weighted, at N concurrent clients against a worker corpus behind the gateway.
//! Drafts come from a deterministic template generator, not a model, so the load measures
//! the platform; every draft is checked by the validators replay uses (`lakehouse-validate`).
//!
//! | scenario | weight | what it does |
//! |---|---|---|
//! | cold_email | 35 % | search, draft an email to the best matches, email validator |
//! | surge_fill | 15 % | filtered search, fill proposal, fill validator, playbook record |
//! | profile_swap | 15 % | search, then the same excluding the first results: no overlap |
//! | repeat_cache | 15 % | the same search five times: the same answer each time |
//! | sms | 10 % | search, draft an SMS, SMS validator |
//! | playbook | 10 % | record into the playbook, then find it there (read your write) |
//!
//! A scenario fails on any non-2xx answer, a validator failure or a broken assertion; each
//! failure is counted under its scenario with its first reason printed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lakehouse_validate::{Context, Validator};
use serde_json::{Value, json};

use crate::print;
use crate::vectors::Rng;

/// `lakehouse-bench multitier` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct MultitierArgs {
    /// The gateway (no `/v1`).
    #[arg(long)]
    base: String,
    #[arg(long)]
    token: Option<String>,
    /// The worker corpus index.
    #[arg(long, default_value = "workers")]
    index: String,
    /// Load this many workers first (0: the index exists).
    #[arg(long, default_value_t = 100_000)]
    load: usize,
    #[arg(long, default_value_t = 384)]
    dim: usize,
    #[arg(long, default_value_t = 50)]
    clients: usize,
    #[arg(long, default_value_t = 300)]
    seconds: u64,
}

const ROLES: [&str; 12] = [
    "welder",
    "electrician",
    "forklift driver",
    "nurse",
    "chef",
    "carpenter",
    "plumber",
    "warehouse picker",
    "security guard",
    "cleaner",
    "painter",
    "mechanic",
];
const CITIES: [&str; 10] = [
    "Leeds", "Bristol", "Cardiff", "Glasgow", "Belfast", "York", "Derby", "Hull", "Bath", "Perth",
];
const SCENARIOS: [(&str, u32); 6] = [
    ("cold_email", 35),
    ("surge_fill", 15),
    ("profile_swap", 15),
    ("repeat_cache", 15),
    ("sms", 10),
    ("playbook", 10),
];

/// A vector near role `role`'s centre.
fn near(role: usize, dim: usize, r: &mut Rng) -> Vec<f32> {
    let mut c = Rng(role as u64 * 7919 + 11);
    (0..dim).map(|_| c.unit() + 0.35 * r.unit()).collect()
}

struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let mut r = self.http.post(format!("{}/v1{path}", self.base)).json(body);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {status} {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
    }

    async fn search(&self, index: &str, body: Value) -> Result<Vec<Value>, String> {
        let v = self
            .post(&format!("/vectors/index/{index}/search"), &body)
            .await?;
        Ok(v["results"].as_array().cloned().unwrap_or_default())
    }
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect()
}

fn field<'a>(h: &'a Value, k: &str) -> &'a str {
    h["metadata"][k].as_str().unwrap_or("")
}

fn check(v: &Validator, answer: &str, evidence: &[String]) -> Result<(), String> {
    let ctx = Context {
        evidence_ids: evidence,
    };
    match v.check(answer, &ctx).first() {
        Some(f) => Err(f.clone()),
        None => Ok(()),
    }
}

/// Loads `n` workers in batches of 500.
async fn load(c: &Client, index: &str, n: usize, dim: usize) -> Result<(), String> {
    let _ = c
        .http
        .delete(format!("{}/v1/vectors/index/{index}", c.base))
        .bearer_auth(c.token.clone().unwrap_or_default())
        .send()
        .await;
    c.post("/vectors/index", &json!({"name": index, "dimension": dim}))
        .await?;
    let mut r = Rng(7);
    let start = Instant::now();
    for from in (0..n).step_by(500) {
        let items: Vec<Value> = (from..n.min(from + 500))
            .map(|i| {
                let role = i % ROLES.len();
                json!({"id": format!("w{i}"), "vector": near(role, dim, &mut r), "metadata": {
                    "name": format!("Worker {i}"), "role": ROLES[role], "city": CITIES[(i / 12) % CITIES.len()],
                    "certified": i % 3 == 0, "phone": format!("555-{:03}-{:04}", i % 1000, i % 10_000)}})
            })
            .collect();
        c.post(
            &format!("/vectors/index/{index}/add"),
            &json!({"items": items}),
        )
        .await?;
    }
    print(
        "multitier",
        "load_seconds",
        start.elapsed().as_secs_f64(),
        "s",
    );
    Ok(())
}

struct Shared {
    client: Client,
    index: String,
    playbook: String,
    dim: usize,
    email: Validator,
    sms: Validator,
    fill: Validator,
}

async fn scenario(s: &Shared, name: &str, r: &mut Rng, seq: &str) -> Result<(), String> {
    let role = r.below(ROLES.len());
    let q = near(role, s.dim, r);
    let c = &s.client;
    match name {
        "cold_email" => {
            let hits = c.search(&s.index, json!({"vector": q, "k": 10})).await?;
            let names: Vec<&str> = hits.iter().take(3).map(|h| field(h, "name")).collect();
            let draft = format!(
                "To: dispatch@staffing.example\nSubject: {} candidates for {}\n\nHello,\n\nThese workers match your request: {}. Call 555-010-2000 to confirm.\n\nRegards,\nDispatch",
                names.len(),
                ROLES[role],
                names.join(", ")
            );
            check(&s.email, &draft, &[])
        }
        "surge_fill" => {
            let hits = c
                .search(
                    &s.index,
                    json!({"vector": q, "k": 10, "filter": {"certified": true}}),
                )
                .await?;
            if hits.iter().any(|h| h["metadata"]["certified"] != true) {
                return Err("the filter let an uncertified worker through".into());
            }
            let found = ids(&hits);
            let picks: Vec<Value> = found.iter().take(3).map(|id| json!({"id": id})).collect();
            let proposal =
                json!({"role": ROLES[role], "shift": "night", "candidates": picks}).to_string();
            check(&s.fill, &proposal, &found)?;
            let item = json!({"id": format!("fill-{seq}"), "vector": q, "metadata": {"task": format!("fill {}", ROLES[role]), "answer": proposal}});
            c.post(
                &format!("/vectors/index/{}/add", s.playbook),
                &json!({"items": [item]}),
            )
            .await
            .map(drop)
        }
        "profile_swap" => {
            let first = ids(&c.search(&s.index, json!({"vector": q, "k": 10})).await?);
            let second = ids(&c
                .search(
                    &s.index,
                    json!({"vector": q, "k": 10, "exclude_ids": first}),
                )
                .await?);
            let a: HashSet<&String> = first.iter().collect();
            match second.iter().find(|id| a.contains(id)) {
                Some(id) => Err(format!("{id} came back although excluded")),
                None if second.len() < 10 => {
                    Err(format!("only {} after the exclusion", second.len()))
                }
                None => Ok(()),
            }
        }
        "repeat_cache" => {
            let body = json!({"vector": q, "k": 10});
            let first = c.search(&s.index, body.clone()).await?;
            for _ in 0..4 {
                if c.search(&s.index, body.clone()).await? != first {
                    return Err("a repeated search answered differently".into());
                }
            }
            Ok(())
        }
        "sms" => {
            let hits = c.search(&s.index, json!({"vector": q, "k": 3})).await?;
            let h = hits.first().ok_or("no worker found")?;
            let text = format!(
                "Shift for a {} in {}: {} is free, call 555-010-2000. Reply YES to book.",
                ROLES[role],
                field(h, "city"),
                field(h, "name")
            );
            check(&s.sms, &text, &[])
        }
        _ => {
            let id = format!("pb-{seq}");
            let item = json!({"id": id, "vector": q, "metadata": {"task": format!("book a {}", ROLES[role]), "answer": "booked", "seq": seq}});
            c.post(
                &format!("/vectors/index/{}/add", s.playbook),
                &json!({"items": [item]}),
            )
            .await?;
            // The entry is asked for by its own tag, so the answer does not rest on recall.
            let hits = c
                .search(
                    &s.playbook,
                    json!({"vector": q, "k": 1, "filter": {"seq": seq}}),
                )
                .await?;
            match ids(&hits).first() {
                Some(found) if *found == id => Ok(()),
                other => Err(format!(
                    "the entry just recorded is not the nearest: {other:?}"
                )),
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    failures: u64,
    first_failure: Option<String>,
}

/// Runs the test and prints its figures.
pub(crate) async fn run(a: MultitierArgs) {
    let client = Client {
        base: a.base.clone(),
        token: a.token.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client"),
    };
    if a.load > 0 {
        load(&client, &a.index, a.load, a.dim)
            .await
            .expect("loading the corpus");
    }
    let playbook = format!("playbook-{}", std::process::id());
    // A small, freshly created index that the load writes into from the first second.
    client
        .post(
            "/vectors/index",
            &json!({"name": playbook, "dimension": a.dim, "text_field": "task"}),
        )
        .await
        .expect("creating the playbook index");
    let parse = |v: Value| Validator::parse(&v).expect("validator");
    let shared = Arc::new(Shared {
        client,
        index: a.index.clone(),
        playbook,
        dim: a.dim,
        email: parse(json!("email")),
        sms: parse(json!("sms")),
        fill: parse(
            json!({"fill": {"fields": {"role": "string", "shift": "string"}, "max_candidates": 3}}),
        ),
    });
    let tallies: Arc<Mutex<BTreeMap<&'static str, Tally>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let total: u32 = SCENARIOS.iter().map(|s| s.1).sum();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client_no in 0..a.clients {
        let (shared, tallies) = (shared.clone(), tallies.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = Rng(1000 + client_no as u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut pick = (r.next() % u64::from(total)) as u32;
                let name = SCENARIOS
                    .iter()
                    .find(|(_, w)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map_or("playbook", |s| s.0);
                n += 1;
                let t = Instant::now();
                let result = scenario(&shared, name, &mut r, &format!("{client_no}-{n}")).await;
                let secs = t.elapsed().as_secs_f64();
                let mut all = tallies
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let e = all.entry(name).or_default();
                e.latencies.push(secs);
                if let Err(why) = result {
                    e.failures += 1;
                    e.first_failure.get_or_insert(why);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let all = std::mem::take(
        &mut *tallies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut done = 0;
    for (name, mut t) in all {
        t.latencies.sort_by(f64::total_cmp);
        let n = t.latencies.len();
        done += n;
        let pct = |p: f64| t.latencies[((n as f64 * p) as usize).min(n - 1)] * 1000.0;
        print(name, "scenarios_per_s", n as f64 / secs, "/s");
        print(name, "p50", pct(0.5), "ms");
        print(name, "p99", pct(0.99), "ms");
        print(
            name,
            "failure_rate_pct",
            100.0 * t.failures as f64 / n as f64,
            "%",
        );
        if let Some(why) = t.first_failure {
            println!("{name} first_failure {why}");
        }
    }
    print("all", "scenarios_per_s", done as f64 / secs, "/s");
    print("all", "scenarios", done as f64, "");
}
