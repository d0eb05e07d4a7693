//! Forwarding one request: strip `/v1`, join the upstream's base path, stream the body both
//! ways, and turn transport failures into 502/504 JSON errors.
//!
//! The path goes upstream byte for byte as received. A URL parser (as in most HTTP clients)
//! would decode and resolve escaped dot segments (`a/%2E%2E/x` → `x`), letting a request
//! reach a key or route it does not name; `http::Uri` keeps the bytes, so the upstream sees
//! what the client sent and refuses dot segments itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use lakehouse_client::is_standby_refusal;
use lakehouse_common::access::CLIENT_HEADER;
use lakehouse_common::{ApiError, Principal};

use crate::figures::{Failure, Figures};
use crate::shards::{self, Route};
use crate::upstreams::{Placement, Upstream, UpstreamAuth};

/// The connection pool requests are forwarded through (http and https upstreams).
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Body>;

/// A pool for forwarding: keep-alive connections, `connect_timeout` per connection, https
/// upstreams verified with `tls`.
pub fn upstream_client(connect_timeout: Duration, tls: rustls::ClientConfig) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .pool_timer(TokioTimer::new())
        .build(https)
}

/// What a forwarding handler needs.
#[derive(Debug, Clone)]
pub struct ProxyState {
    /// The upstream this route goes to.
    pub upstream: Arc<Upstream>,
    /// Shared connection pool.
    pub http: UpstreamClient,
    /// Limit for the upstream's response headers.
    pub timeout: Duration,
    /// `http` or `https`: how clients reach the gateway, for `X-Forwarded-Proto`.
    pub scheme: &'static str,
    /// Per-upstream metrics.
    pub figures: Figures,
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

/// Forwards the request to this route's upstream, and counts how that went.
pub async fn forward(
    State(ps): State<ProxyState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let outcome = match ps.upstream.placement {
        Placement::Balanced => {
            let order = ps.upstream.instances.order();
            forward_once(&ps, peer, req, order).await
        }
        Placement::ByIndexName => {
            match shards::route(req, ps.upstream.instances.bases.len()).await {
                Ok(Route::To(owner, req)) => forward_once(&ps, peer, req, vec![owner]).await,
                Ok(Route::All(req)) => shards::fan_out(&ps, peer, req).await,
                Err(res) => Err((Failure::BodyTooLarge, res)),
            }
        }
    };
    let (res, failure) = match outcome {
        Ok(res) if res.status().is_server_error() => (res, Some(Failure::Upstream5xx)),
        Ok(res) => (res, None),
        Err((failure, res)) => (res, Some(failure)),
    };
    ps.figures.record(
        ps.upstream.name,
        res.status().as_u16(),
        failure,
        started.elapsed(),
    );
    res
}

/// Forwards `req` to the first of the instances in `order` that takes it.
pub(crate) async fn forward_once(
    ps: &ProxyState,
    peer: SocketAddr,
    req: Request,
    order: Vec<usize>,
) -> Result<Response, (Failure, Response)> {
    let up = &ps.upstream;
    if order.is_empty() {
        let e = ApiError::unavailable(format!(
            "no {} server is configured for this gateway",
            up.name
        ))
        .with_code("not_configured");
        return Err((Failure::NotConfigured, e.into_response()));
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > up.max_body) {
        return Err((Failure::BodyTooLarge, too_large(up.max_body)));
    }
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AUTHORIZATION);
    // Only the gateway names the caller to the services; a client's own copy is dropped.
    headers.remove(CLIENT_HEADER);
    set_forwarded(&mut headers, &parts.headers, peer, ps.scheme);
    let bearer = match &up.auth {
        UpstreamAuth::Internal(t) | UpstreamAuth::External(t) => t.as_deref(),
    };
    if let Some(t) = bearer
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}"))
    {
        headers.insert(header::AUTHORIZATION, v);
    }
    if matches!(up.auth, UpstreamAuth::Internal(_))
        && let Some(p) = parts.extensions.get::<Principal>()
        && let Ok(v) = HeaderValue::from_str(&p.name)
    {
        headers.insert(CLIENT_HEADER, v);
    }
    // With several instances, a small body is held so the request can go to the next one
    // when connecting fails; a large or unsized one streams to the first, without a retry.
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    let replayable = order.len() > 1 && !chunked && declared.unwrap_or(0) <= REPLAYABLE_BODY;
    let (held, mut streamed) = if replayable {
        match axum::body::to_bytes(body, REPLAYABLE_BODY as usize).await {
            Ok(b) => (Some(b), None),
            Err(_) => {
                let e = ApiError::bad_request("the request body could not be read")
                    .with_code("body_read_failed");
                return Err((Failure::Broken, e.into_response()));
            }
        }
    } else {
        (None, Some(body))
    };
    let exceeded = Arc::new(AtomicBool::new(false));
    let cap = up.max_body;
    let tries = if held.is_some() { order.len() } else { 1 };
    let mut last = None;
    for (attempt, &i) in order.iter().take(tries).enumerate() {
        let url = upstream_url(&up.instances.bases[i], &parts.uri);
        let Ok(uri) = http::Uri::try_from(url.as_str()) else {
            return Ok(
                ApiError::bad_request("the request path cannot be forwarded").into_response(),
            );
        };
        let body = match (&held, streamed.take()) {
            (Some(b), _) => Body::from(b.clone()),
            (None, Some(b)) => counted(b, cap, exceeded.clone()),
            (None, None) => break,
        };
        let mut upstream_req = http::Request::new(body);
        *upstream_req.method_mut() = parts.method.clone();
        *upstream_req.uri_mut() = uri;
        *upstream_req.headers_mut() = headers.clone();
        let send = ps.http.request(upstream_req);
        let res = match tokio::time::timeout(ps.timeout, send).await {
            Err(_) => {
                let e = ApiError::gateway_timeout(format!(
                    "{} did not answer within {} ms",
                    up.name,
                    ps.timeout.as_millis()
                ))
                .with_code("upstream_timeout");
                return Err((Failure::Timeout, e.into_response()));
            }
            Ok(Err(_)) if exceeded.load(Ordering::Relaxed) => {
                return Err((Failure::BodyTooLarge, too_large(cap)));
            }
            Ok(Err(e)) if e.is_connect() => {
                // Nothing reached it: take it out and try the next one.
                if up.instances.mark(i, false) {
                    tracing::warn!(upstream = up.name, instance = %up.instances.bases[i], "instance taken out: connecting failed");
                }
                last = Some(transport_error(up.name, &e));
                continue;
            }
            Ok(Err(e)) => return Err(transport_error(up.name, &e)),
            // A standby turned it away before doing anything: the leader is another one.
            Ok(Ok(res))
                if held.is_some()
                    && is_standby_refusal(res.status(), res.headers())
                    && attempt + 1 < tries =>
            {
                if up.instances.mark(i, false) {
                    tracing::info!(upstream = up.name, instance = %up.instances.bases[i], "instance taken out: standing by");
                }
                continue;
            }
            Ok(Ok(res)) => res,
        };
        let (mut head, body) = res.into_parts();
        strip_hop_by_hop(&mut head.headers);
        return Ok(Response::from_parts(head, Body::new(body)));
    }
    Err(last.unwrap_or_else(|| {
        let e = ApiError::bad_gateway(format!("{} is unreachable", up.name))
            .with_code("upstream_unavailable");
        (Failure::Unreachable, e.into_response())
    }))
}

/// Bodies up to this size are held for a retry on another instance.
const REPLAYABLE_BODY: u64 = 1 << 20;

/// The body as a stream that counts bytes as they pass, so a body without `Content-Length`
/// cannot exceed the cap.
fn counted(body: Body, cap: u64, exceeded: Arc<AtomicBool>) -> Body {
    let mut seen = 0u64;
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > cap {
            exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "request body exceeds the gateway's cap",
            ));
        }
        Ok(chunk)
    }))
}

fn too_large(cap: u64) -> Response {
    ApiError::payload_too_large(format!(
        "request body exceeds the limit of {cap} bytes for this route"
    ))
    .into_response()
}

fn transport_error(name: &str, e: &hyper_util::client::legacy::Error) -> (Failure, Response) {
    let (failure, err) = if e.is_connect() {
        let e = ApiError::bad_gateway(format!("{name} is unreachable"))
            .with_code("upstream_unavailable");
        (Failure::Unreachable, e)
    } else {
        // The client's own body failed (a disconnect), or the upstream closed or answered
        // something that is not HTTP.
        let e = ApiError::bad_gateway(format!("{name} request failed: {}", chain(e)))
            .with_code("upstream_error");
        (Failure::Broken, e)
    };
    tracing::warn!(upstream = name, error = %chain(e), "upstream call failed");
    (failure, err.into_response())
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
fn set_forwarded(
    out: &mut HeaderMap,
    incoming: &HeaderMap,
    peer: SocketAddr,
    scheme: &'static str,
) {
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
    out.insert("x-forwarded-proto", HeaderValue::from_static(scheme));
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
