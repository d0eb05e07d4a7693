//! Prometheus text exposition: request counts and latency histograms by route and status,
//! plus whatever figures a service adds through [`Metrics::add_collector`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

type Collector = Box<dyn Fn(&mut String) + Send + Sync>;

/// The registry of one service.
pub struct Metrics {
    service: &'static str,
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    collectors: RwLock<Vec<Collector>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry for `service`.
    pub fn new(service: &'static str) -> Arc<Self> {
        Arc::new(Self {
            service,
            requests: Mutex::default(),
            collectors: RwLock::default(),
        })
    }

    /// Adds a function that appends the service's own figures in exposition format.
    pub fn add_collector(&self, f: impl Fn(&mut String) + Send + Sync + 'static) {
        self.collectors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let s = map
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            s.buckets[i] += 1;
        }
    }

    /// The whole exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let svc = self.service;
        {
            let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            out.push_str(
                "# HELP lakehouse_http_requests_total HTTP requests served, by route and status.\n",
            );
            out.push_str("# TYPE lakehouse_http_requests_total counter\n");
            for ((m, r, st), s) in map.iter() {
                let _ = writeln!(
                    out,
                    "lakehouse_http_requests_total{{service=\"{svc}\",method=\"{m}\",route=\"{}\",status=\"{st}\"}} {}",
                    escape(r),
                    s.count
                );
            }
            out.push_str("# HELP lakehouse_http_request_duration_seconds Time from request to response head.\n");
            out.push_str("# TYPE lakehouse_http_request_duration_seconds histogram\n");
            for ((m, r, st), s) in map.iter() {
                let labels = format!(
                    "service=\"{svc}\",method=\"{m}\",route=\"{}\",status=\"{st}\"",
                    escape(r)
                );
                let mut cumulative = 0;
                for (b, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "lakehouse_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "lakehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    s.count
                );
                let _ = writeln!(
                    out,
                    "lakehouse_http_request_duration_seconds_sum{{{labels}}} {}",
                    s.sum
                );
                let _ = writeln!(
                    out,
                    "lakehouse_http_request_duration_seconds_count{{{labels}}} {}",
                    s.count
                );
            }
        }
        for c in self
            .collectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            c(&mut out);
        }
        out
    }
}

/// A latency histogram over the shared buckets, updated without a lock.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the `# HELP` and `# TYPE` lines of histogram `name`.
    pub fn write_header(out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    }

    /// Writes this histogram's samples as series `name` with `labels` (may be empty).
    pub fn write_samples(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(self.buckets.iter()) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// Escapes a label value.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends one gauge or counter sample with its HELP and TYPE lines.
pub fn write_sample(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    labels: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// Middleware recording every request under its route template (never the raw path, so
/// label cardinality stays bounded).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::new("t");
        m.observe("GET", "/a", 200, 0.002);
        m.observe("GET", "/a", 200, 0.2);
        m.add_collector(|out| write_sample(out, "t_objects", "gauge", "Objects.", "", 7));
        let text = m.render();
        assert!(text.contains("lakehouse_http_requests_total{service=\"t\",method=\"GET\",route=\"/a\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("t_objects 7"));
    }
}
