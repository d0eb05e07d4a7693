//! Load generator for `scripts/bench/storage.sh` and `scripts/bench/vectors.sh`: object
//! throughput through storaged (or the gateway), the same operations straight against an S3
//! server with the AWS SDK, small-GET latency at high concurrency, and vectord through the
//! gateway ([`vectors`]), and the multitier load test ([`multitier`]). Prints one
//! `name value unit` line per figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use clap::{Parser, Subcommand};

mod multitier;
mod vectors;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// PUT/GET MiB/s for 1 MiB and 64 MiB objects, and 4 KiB objects/s at 8 clients, over HTTP.
    Http {
        /// Base URL ending before `/storage` (storaged, or the gateway + `/v1`).
        #[arg(long)]
        base: String,
        /// Label printed with each figure.
        #[arg(long)]
        label: String,
        /// Bearer token.
        #[arg(long)]
        token: Option<String>,
    },
    /// The same operations directly against an S3 endpoint (credentials from AWS_* variables).
    S3 {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        region: String,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        label: String,
    },
    /// GETs of one small object at N concurrent connections: requests/s and latency.
    SmallGets {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        label: String,
        #[arg(long)]
        token: Option<String>,
    },
    /// Creates a vector index through the gateway and loads `n` vectors into it.
    VectorsLoad {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        index: String,
        #[arg(long)]
        n: usize,
        #[arg(long)]
        dim: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Search requests/s and latency through the gateway at `clients` clients.
    VectorsSearch {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        index: String,
        #[arg(long)]
        dim: usize,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Searches and small upserts into a small and a large index at once.
    VectorsMixed {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        small: String,
        #[arg(long)]
        large: String,
        #[arg(long)]
        dim: usize,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
    /// The multitier load test: six weighted scenarios at N clients (see `multitier.rs`).
    Multitier(multitier::MultitierArgs),
    /// Streams one upload of `size_mib` MiB to `url` (PUT) without holding it in memory.
    Upload {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 200)]
        size_mib: u64,
        #[arg(long)]
        token: Option<String>,
    },
}

/// The operations measured, behind one trait so HTTP and direct S3 run the same loop.
trait Target: Send + Sync + 'static {
    fn put(&self, key: String, data: Bytes) -> futures::future::BoxFuture<'_, ()>;
    fn get(&self, key: String) -> futures::future::BoxFuture<'_, usize>;
}

struct Http {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl Http {
    fn req(&self, m: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let r = self.client.request(m, url);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }
}

impl Target for Http {
    fn put(&self, key: String, data: Bytes) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            let res = self
                .req(
                    reqwest::Method::PUT,
                    format!("{}/storage/objects/{key}", self.base),
                )
                .body(data)
                .send()
                .await
                .expect("put");
            assert!(res.status().is_success(), "PUT {key}: {}", res.status());
        })
    }
    fn get(&self, key: String) -> futures::future::BoxFuture<'_, usize> {
        Box::pin(async move {
            let res = self
                .req(
                    reqwest::Method::GET,
                    format!("{}/storage/objects/{key}", self.base),
                )
                .send()
                .await
                .expect("get");
            assert!(res.status().is_success(), "GET {key}: {}", res.status());
            res.bytes().await.expect("body").len()
        })
    }
}

struct S3 {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl Target for S3 {
    fn put(&self, key: String, data: Bytes) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            let len = data.len();
            if len > 8 << 20 {
                // Large objects go multipart in 8 MiB parts, as storaged does.
                let up = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .expect("create");
                let id = up.upload_id().expect("upload id").to_owned();
                let mut parts = Vec::new();
                for (i, chunk) in data.chunks(8 << 20).enumerate() {
                    let n = i32::try_from(i + 1).expect("part number");
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(&key)
                        .upload_id(&id)
                        .part_number(n)
                        .body(ByteStream::from(data.slice_ref(chunk)))
                        .send()
                        .await
                        .expect("part");
                    parts.push(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .set_e_tag(out.e_tag().map(str::to_owned))
                            .part_number(n)
                            .build(),
                    );
                }
                let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build();
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(done)
                    .send()
                    .await
                    .expect("complete");
            } else {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .expect("put");
            }
        })
    }
    fn get(&self, key: String) -> futures::future::BoxFuture<'_, usize> {
        Box::pin(async move {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .expect("get");
            out.body.collect().await.expect("body").into_bytes().len()
        })
    }
}

fn data(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

fn print(label: &str, name: &str, value: f64, unit: &str) {
    println!("{label} {name} {value:.1} {unit}");
}

async fn throughput(t: Arc<dyn Target>, label: &str) {
    let run = format!("bench-{}", std::process::id());
    for (name, size, count) in [("1mib", 1usize << 20, 64usize), ("64mib", 64 << 20, 4)] {
        let body = data(size);
        // Warm-up: connections and caches.
        t.put(format!("{run}/{name}/warm"), body.clone()).await;
        let start = Instant::now();
        for i in 0..count {
            t.put(format!("{run}/{name}/{i}"), body.clone()).await;
        }
        let mib = (size * count) as f64 / f64::from(1 << 20);
        print(
            label,
            &format!("put_{name}"),
            mib / start.elapsed().as_secs_f64(),
            "MiB/s",
        );
        let start = Instant::now();
        for i in 0..count {
            assert_eq!(t.get(format!("{run}/{name}/{i}")).await, size);
        }
        print(
            label,
            &format!("get_{name}"),
            mib / start.elapsed().as_secs_f64(),
            "MiB/s",
        );
    }
    let small = data(4096);
    for op in ["put", "get"] {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut workers = Vec::new();
        for w in 0..8 {
            let (t, done, small, run) = (t.clone(), done.clone(), small.clone(), run.clone());
            workers.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let key = format!("{run}/4k/{w}-{}", i % 200);
                    if op == "put" {
                        t.put(key, small.clone()).await;
                    } else {
                        assert_eq!(t.get(key).await, 4096);
                    }
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let start = Instant::now();
        for w in workers {
            w.await.expect("worker");
        }
        print(
            label,
            &format!("{op}_4kib_8clients"),
            done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
            "ops/s",
        );
    }
}

async fn small_gets(
    url: String,
    concurrency: usize,
    seconds: u64,
    label: &str,
    token: Option<String>,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let mut r = client.get(&url);
                if let Some(t) = &token {
                    r = r.bearer_auth(t);
                }
                let res = r.send().await.expect("get");
                assert!(res.status().is_success());
                res.bytes().await.expect("body");
                lat.push(t0.elapsed().as_secs_f64());
            }
            lat
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    report_latencies(label, all, start.elapsed().as_secs_f64());
}

/// Prints requests/s over `secs` and the p50 and p99 of `all` (seconds per request).
fn report_latencies(label: &str, mut all: Vec<f64>, secs: f64) {
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1));
        all.get(i).copied().unwrap_or(0.0) * 1000.0
    };
    print(label, "requests_per_s", all.len() as f64 / secs, "req/s");
    print(label, "p50", pct(0.50), "ms");
    print(label, "p99", pct(0.99), "ms");
}

async fn upload(url: String, size_mib: u64, token: Option<String>) {
    let chunk = data(1 << 20);
    let stream =
        futures::stream::iter((0..size_mib).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let mut r = reqwest::Client::new()
        .put(&url)
        .header("content-length", (size_mib << 20).to_string())
        .body(reqwest::Body::wrap_stream(stream));
    if let Some(t) = &token {
        r = r.bearer_auth(t);
    }
    let start = Instant::now();
    let res = r.send().await.expect("upload");
    assert!(res.status().is_success(), "upload: {}", res.status());
    print(
        "upload",
        "mib_per_s",
        size_mib as f64 / start.elapsed().as_secs_f64(),
        "MiB/s",
    );
}

#[tokio::main]
async fn main() {
    match Args::parse().cmd {
        Cmd::Http { base, label, token } => {
            let t = Http {
                base,
                token,
                client: reqwest::Client::new(),
            };
            throughput(Arc::new(t), &label).await;
        }
        Cmd::S3 {
            endpoint,
            region,
            bucket,
            label,
        } => {
            let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
            let conf = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(Region::new(region))
                .force_path_style(true)
                .credentials_provider(Credentials::new(
                    var("AWS_ACCESS_KEY_ID"),
                    var("AWS_SECRET_ACCESS_KEY"),
                    None,
                    None,
                    "env",
                ))
                .request_checksum_calculation(
                    aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
                )
                .response_checksum_validation(
                    aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
                )
                .build();
            throughput(
                Arc::new(S3 {
                    client: aws_sdk_s3::Client::from_conf(conf),
                    bucket,
                }),
                &label,
            )
            .await;
        }
        Cmd::SmallGets {
            url,
            concurrency,
            seconds,
            label,
            token,
        } => small_gets(url, concurrency, seconds, &label, token).await,
        Cmd::Multitier(a) => multitier::run(a).await,
        Cmd::Upload {
            url,
            size_mib,
            token,
        } => upload(url, size_mib, token).await,
        Cmd::VectorsLoad {
            base,
            token,
            index,
            n,
            dim,
            batch,
        } => {
            let v = vectors::Vectors::new(base, token);
            v.load(&index, n, dim, batch).await;
        }
        Cmd::VectorsSearch {
            base,
            token,
            index,
            dim,
            clients,
            seconds,
        } => {
            let v = vectors::Vectors::new(base, token);
            vectors::search(v, index, dim, clients, seconds).await;
        }
        Cmd::VectorsMixed {
            base,
            token,
            small,
            large,
            dim,
            clients,
            seconds,
        } => {
            let v = vectors::Vectors::new(base, token);
            vectors::mixed(v, small, large, dim, clients, seconds).await;
        }
    }
}
