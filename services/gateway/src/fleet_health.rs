//! `GET /v1/health`: the readiness of every service of the fleet in one answer, so an operator
//! (or the console, or `lakehouse health`) sees which one is down without reaching the internal
//! ports. 200 when every service is ready, 503 otherwise; each entry names the service, its
//! status, version, how long its `/ready` took and why it is not ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lakehouse_client::ServiceClient;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One instance of an internal upstream.
#[derive(Clone)]
pub struct Probe {
    /// The service.
    pub service: &'static str,
    /// Which of its instances (in the order configured).
    pub instance: usize,
    /// A client for it; `/ready` and `/health` are public on every service.
    pub client: ServiceClient,
    /// Each instance holds data no other has (vectord's shards): one down is not ready.
    pub every_instance: bool,
}

/// Each instance of each internal upstream, probed on every request.
#[derive(Clone)]
pub struct FleetProbes {
    /// The instances.
    pub services: Arc<Vec<Probe>>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /v1/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetHealth {
    /// `ready` when every instance of every service is; `degraded` when some instance is not
    /// but every service has one that is; else `not_ready`.
    status: &'static str,
    /// The gateway first, then every upstream.
    services: Vec<ServiceHealth>,
}

/// One service's readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHealth {
    service: &'static str,
    /// Which instance of the service (0 for the first configured URL).
    instance: usize,
    /// `ready`, `not_ready`, `unreachable`, or `standby` (a catalogd waiting to take over,
    /// which counts as ready).
    status: &'static str,
    /// Its crate version; absent when it could not be asked.
    version: Option<String>,
    /// How long its `/ready` took.
    latency_ms: f64,
    /// Why it is not ready.
    reasons: Vec<String>,
}

async fn probe(p: &Probe, rid: &str) -> ServiceHealth {
    let (name, c) = (p.service, &p.client);
    let started = Instant::now();
    let ready = c
        .request(reqwest::Method::GET, "/ready", rid)
        .timeout(PROBE_TIMEOUT)
        .send()
        .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, reasons) = match ready {
        Err(e) => {
            let e = lakehouse_client::ClientError::transport(&c.url("/ready"), &e);
            ("unreachable", vec![e.to_string()])
        }
        Ok(res) => {
            let ok = res.status().is_success();
            let standby = res.headers().contains_key(lakehouse_client::ROLE_HEADER);
            let body: Value = res.json().await.unwrap_or(Value::Null);
            let reasons = body["reasons"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let status = match (ok, standby) {
                (_, true) => "standby",
                (true, false) => "ready",
                (false, false) => "not_ready",
            };
            (status, reasons)
        }
    };
    let version = match status {
        "unreachable" => None,
        _ => c.health(rid).await.ok().map(|h| h.version),
    };
    ServiceHealth {
        service: name,
        instance: p.instance,
        status,
        version,
        latency_ms: (latency_ms * 100.0).round() / 100.0,
        reasons,
    }
}

/// The readiness of every service of the fleet, probed now.
#[utoipa::path(get, path = "/v1/health", tag = "fleet",
    responses(
        (status = 200, description = "Every service is ready (`ready`), or has a ready instance (`degraded`)", body = FleetHealth),
        (status = 503, description = "At least one is not; each entry says why", body = FleetHealth),
    ))]
pub async fn fleet_health(State(p): State<FleetProbes>) -> Response {
    let rid = lakehouse_common::request_id::current()
        .unwrap_or_else(lakehouse_common::request_id::generate);
    let mut services = vec![ServiceHealth {
        service: "gateway",
        instance: 0,
        status: "ready",
        version: Some(crate::VERSION.to_owned()),
        latency_ms: 0.0,
        reasons: Vec::new(),
    }];
    let probes = p.services.iter().map(|p| probe(p, &rid));
    services.extend(futures::future::join_all(probes).await);
    let all_ready = services
        .iter()
        .all(|s| s.status == "ready" || s.status == "standby");
    let sharded = |name: &str| {
        p.services
            .iter()
            .any(|x| x.service == name && x.every_instance)
    };
    let each_has_one = services.iter().all(|s| {
        if sharded(s.service) {
            return s.status == "ready";
        }
        services
            .iter()
            .any(|o| o.service == s.service && o.status == "ready")
    });
    let (code, status) = match (all_ready, each_has_one) {
        (true, _) => (StatusCode::OK, "ready"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
    };
    (code, Json(FleetHealth { status, services })).into_response()
}
