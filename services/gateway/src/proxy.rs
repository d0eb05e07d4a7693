//! Forwarding one request: strip `/v1`, join the upstream's base path, stream the body both
//! ways, and turn transport failures into 502/504 JSON errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};
use lakehouse_common::ApiError;

use crate::upstreams::{Upstream, UpstreamAuth};

/// What a forwarding handler needs.
#[derive(Debug, Clone)]
pub struct ProxyState {
    /// The upstream this route goes to.
    pub upstream: Arc<Upstream>,
    /// Shared connection pool.
    pub http: reqwest::Client,
    /// Limit for the upstream's response headers.
    pub timeout: Duration,
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those we set.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
];

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in HOP_BY_HOP.iter().chain(named.iter()) {
        h.remove(n);
    }
    h.remove("keep-alive");
}

/// The upstream URL: base + the path without `/v1`, raw (escapes untouched) + query.
pub fn upstream_url(base: &str, uri: &http::Uri) -> String {
    let path = uri.path().strip_prefix("/v1").unwrap_or(uri.path());
    match uri.query() {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    }
}

/// Forwards the request to this route's upstream.
pub async fn forward(
    State(ps): State<ProxyState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let up = &ps.upstream;
    let Some(base) = &up.base else {
        return ApiError::unavailable(format!(
            "no {} server is configured for this gateway",
            up.name
        ))
        .with_code("not_configured")
        .into_response();
    };
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > up.max_body) {
        return too_large(up.max_body);
    }
    let url = upstream_url(base, &parts.uri);
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AUTHORIZATION);
    set_forwarded(&mut headers, &parts.headers, peer);
    let bearer = match &up.auth {
        UpstreamAuth::Internal(t) | UpstreamAuth::External(t) => t.as_deref(),
    };
    if let Some(t) = bearer
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
    {
        headers.insert(header::AUTHORIZATION, v);
    }
    // Count bytes as they pass so a body without Content-Length cannot exceed the cap.
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let cap = up.max_body;
    let mut seen = 0u64;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > cap {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "request body exceeds the gateway's cap",
            ));
        }
        Ok(chunk)
    });
    let send = ps
        .http
        .request(parts.method.clone(), &url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let res = match tokio::time::timeout(ps.timeout, send).await {
        Err(_) => {
            return ApiError::gateway_timeout(format!(
                "{} did not answer within {} ms",
                up.name,
                ps.timeout.as_millis()
            ))
            .with_code("upstream_timeout")
            .into_response();
        }
        Ok(Err(_)) if exceeded.load(Ordering::Relaxed) => return too_large(cap),
        Ok(Err(e)) => return transport_error(up.name, &e),
        Ok(Ok(res)) => res,
    };
    let status = res.status();
    let mut out_headers = res.headers().clone();
    strip_hop_by_hop(&mut out_headers);
    let mut response = Response::new(Body::from_stream(res.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    response
}

fn too_large(cap: u64) -> Response {
    ApiError::payload_too_large(format!(
        "request body exceeds the limit of {cap} bytes for this route"
    ))
    .into_response()
}

fn transport_error(name: &str, e: &reqwest::Error) -> Response {
    let err = if e.is_timeout() {
        ApiError::gateway_timeout(format!("{name} timed out")).with_code("upstream_timeout")
    } else if e.is_connect() {
        ApiError::bad_gateway(format!("{name} is unreachable")).with_code("upstream_unavailable")
    } else if e.is_body() || e.is_request() {
        // The client's own body failed (disconnect) or the upstream closed mid-request.
        ApiError::bad_gateway(format!("{name} request failed: {}", chain(e)))
            .with_code("upstream_error")
    } else {
        ApiError::bad_gateway(format!("{name} answered badly: {}", chain(e)))
            .with_code("upstream_error")
    };
    tracing::warn!(upstream = name, error = %chain(e), "upstream call failed");
    err.into_response()
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}

/// Appends the peer to `X-Forwarded-For` and records the original host and scheme.
fn set_forwarded(out: &mut HeaderMap, incoming: &HeaderMap, peer: SocketAddr) {
    let ip = peer.ip().to_string();
    let xff = match incoming
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        out.insert("x-forwarded-for", v);
    }
    if let Some(host) = incoming.get(header::HOST) {
        out.insert("x-forwarded-host", host.clone());
    }
    out.insert("x-forwarded-proto", HeaderValue::from_static("http"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_sub_paths_and_keeps_escapes_and_query() {
        let uri: http::Uri = "/v1/storage/objects/a%2Fb%20c?x=1&y=%2F".parse().unwrap();
        assert_eq!(
            upstream_url("http://h:1", &uri),
            "http://h:1/storage/objects/a%2Fb%20c?x=1&y=%2F"
        );
        assert_eq!(
            upstream_url("http://h:1/api", &uri),
            "http://h:1/api/storage/objects/a%2Fb%20c?x=1&y=%2F"
        );
        let uri: http::Uri = "/v1/embeddings".parse().unwrap();
        assert_eq!(
            upstream_url("http://m:8/v1", &uri),
            "http://m:8/v1/embeddings"
        );
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
