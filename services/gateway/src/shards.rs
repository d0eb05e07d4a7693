//! vectord instances each own a shard of the indexes (`lakehouse_types::shard`): a request
//! naming an index goes to its owner; a create goes where its body's name belongs; the list
//! of indexes is asked of every shard and merged. With one instance everything goes to it.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use lakehouse_common::ApiError;
use lakehouse_types::shard::owner_of;

use crate::figures::Failure;
use crate::proxy::{ProxyState, forward_once};

/// Where a vectors request goes.
pub enum Route {
    /// To this instance.
    To(usize, Request),
    /// To every instance, the answers merged (the index list).
    All(Request),
}

/// A create body is read to learn the name; it is small (a name and parameters).
const CREATE_BODY: usize = 1 << 20;

/// Chooses the instance (of `shards`) for `req`.
pub async fn route(req: Request, shards: usize) -> Result<Route, Response> {
    if shards <= 1 {
        return Ok(Route::To(0, req));
    }
    let path = req.uri().path().trim_end_matches('/');
    if let Some(rest) = path.strip_prefix("/v1/vectors/index/") {
        let name = rest.split('/').next().unwrap_or_default();
        return Ok(Route::To(owner_of(name, shards), req));
    }
    if path != "/v1/vectors/index" {
        return Ok(Route::To(0, req));
    }
    match *req.method() {
        Method::GET => Ok(Route::All(req)),
        Method::POST => {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, CREATE_BODY).await.map_err(|_| {
                ApiError::payload_too_large(format!(
                    "an index create body is at most {CREATE_BODY} bytes"
                ))
                .into_response()
            })?;
            // A body without a name goes anywhere: that instance refuses it with a 400.
            let owner = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["name"].as_str().map(|n| owner_of(n, shards)))
                .unwrap_or(0);
            Ok(Route::To(
                owner,
                Request::from_parts(parts, Body::from(bytes)),
            ))
        }
        _ => Ok(Route::To(0, req)),
    }
}

/// Asks every instance for its indexes and answers with all of them, by name. The first
/// instance that fails decides the answer (a shard down is a list that would be wrong).
pub async fn fan_out(
    ps: &ProxyState,
    peer: SocketAddr,
    req: Request,
) -> Result<Response, (Failure, Response)> {
    let (parts, _) = req.into_parts();
    let shards = ps.upstream.instances.bases.len();
    let asks = (0..shards).map(|i| {
        let mut one = Request::new(Body::empty());
        *one.method_mut() = parts.method.clone();
        *one.uri_mut() = parts.uri.clone();
        *one.headers_mut() = parts.headers.clone();
        *one.extensions_mut() = parts.extensions.clone();
        forward_once(ps, peer, one, vec![i])
    });
    let mut names: Vec<String> = Vec::new();
    for answer in futures::future::join_all(asks).await {
        let res = answer?;
        if res.status() != StatusCode::OK {
            return Ok(res);
        }
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .map_err(|_| broken("an index list could not be read"))?;
        let list: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| broken("an index list is not JSON"))?;
        names.extend(
            list["names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned)),
        );
    }
    names.sort();
    names.dedup();
    let body = serde_json::json!({"count": names.len(), "names": names});
    Ok(axum::Json(body).into_response())
}

fn broken(what: &str) -> (Failure, Response) {
    let e = ApiError::bad_gateway(format!("vectord: {what}")).with_code("upstream_error");
    (Failure::Broken, e.into_response())
}
