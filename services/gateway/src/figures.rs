//! The gateway's own metrics, per upstream: requests forwarded by status class, failures by
//! kind (the gateway's own answers: timeout, unreachable, broken, body too large, not
//! configured; and the upstream's 5xx), and the time until the upstream's response head.

use std::sync::Arc;
use std::time::Duration;

use lakehouse_common::metric_family::{CounterFamily, HistogramFamily};
use lakehouse_common::metrics::Metrics;

/// What went wrong with one forwarded request, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response head within `upstream_timeout_ms`.
    Timeout,
    /// The connection was refused or could not be made.
    Unreachable,
    /// The exchange broke after connecting.
    Broken,
    /// The request body was over the route's cap.
    BodyTooLarge,
    /// No URL is configured for this upstream.
    NotConfigured,
    /// The upstream answered 5xx.
    Upstream5xx,
}

impl Failure {
    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Broken => "broken",
            Self::BodyTooLarge => "body_too_large",
            Self::NotConfigured => "not_configured",
            Self::Upstream5xx => "upstream_5xx",
        }
    }
}

/// The families, shared by every route.
#[derive(Debug, Clone)]
pub struct Figures {
    requests: Arc<CounterFamily>,
    errors: Arc<CounterFamily>,
    latency: Arc<HistogramFamily>,
}

impl Figures {
    /// Registers the families with `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            requests: CounterFamily::register(
                metrics,
                "lakehouse_gateway_upstream_requests_total",
                "Requests forwarded, by upstream and status class of the answer.",
                &["upstream", "class"],
            ),
            errors: CounterFamily::register(
                metrics,
                "lakehouse_gateway_upstream_errors_total",
                "Forwarded requests that failed, by upstream and kind.",
                &["upstream", "kind"],
            ),
            latency: HistogramFamily::register(
                metrics,
                "lakehouse_gateway_upstream_seconds",
                "Time from forwarding a request to the upstream's response head.",
                &["upstream"],
            ),
        }
    }

    /// One forwarded request and how it ended.
    pub fn record(&self, upstream: &str, status: u16, failure: Option<Failure>, took: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.inc(&[upstream, class]);
        if let Some(f) = failure {
            self.errors.inc(&[upstream, f.label()]);
        }
        if !matches!(
            failure,
            Some(Failure::BodyTooLarge | Failure::NotConfigured)
        ) {
            self.latency.observe(&[upstream], took);
        }
    }
}
