//! `lakehouse health` (every service's readiness, through the gateway's `/v1/health`) and
//! `lakehouse probe URL` (one URL answers 2xx: the container healthcheck, no token needed).

use std::time::Duration;

use serde_json::Value;

use crate::output::{ListFormat, list_format, print_list};
use crate::remote::{CliError, Remote, api_error, failed};

/// Runs `lakehouse health`: exit 0 when every service is ready (or has a ready instance), 1
/// otherwise.
pub async fn health(remote: &Remote, format: Option<ListFormat>) -> Result<(), CliError> {
    let res = remote
        .send(remote.request(reqwest::Method::GET, "/health"))
        .await;
    // 503 is the answer "some service is not ready", with the same body.
    let v: Value = match res {
        Ok(r) => r.json().await.map_err(|e| failed("the health answer", e))?,
        Err(CliError::Api { status: 503, .. }) => {
            let r = remote
                .request(reqwest::Method::GET, "/health")
                .send()
                .await
                .map_err(|e| failed("the gateway", e))?;
            if r.status().as_u16() != 503 {
                return Err(api_error(r).await);
            }
            r.json().await.map_err(|e| failed("the health answer", e))?
        }
        Err(e) => return Err(e),
    };
    let services: Vec<Value> = v["services"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut s| {
            let reasons = s["reasons"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            s["reasons"] = Value::String(reasons);
            s
        })
        .collect();
    print_list(
        list_format(format),
        &v,
        &services,
        &[
            "service",
            "instance",
            "status",
            "version",
            "latency_ms",
            "reasons",
        ],
    )?;
    if v["status"] == "ready" {
        Ok(())
    } else if v["status"] == "degraded" {
        // Every service still answers through another instance.
        eprintln!("warning: degraded: some instances are not ready");
        Ok(())
    } else {
        let down: Vec<&str> = services
            .iter()
            .filter(|s| s["status"] != "ready")
            .filter_map(|s| s["service"].as_str())
            .collect();
        Err(CliError::Failed(format!("not ready: {}", down.join(", "))))
    }
}

/// Runs `lakehouse probe URL`.
pub async fn probe(url: &str, timeout_ms: u64) -> Result<(), CliError> {
    let http = lakehouse_client::http_builder()
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .map_err(|e| failed("HTTP client", e))?;
    let res = http.get(url).send().await.map_err(|e| failed(url, e))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("{url}: HTTP {}", res.status())))
    }
}
