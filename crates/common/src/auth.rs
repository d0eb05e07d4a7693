//! Bearer token and source-IP allowlist, applied to every route but `/health` and `/ready`.
//!
//! Two rules keep a misconfiguration from opening a service: an allowlist whose entries all
//! fail to parse refuses to start (it must never silently become allow-all), and a service
//! bound to a non-loopback address without a token refuses to start.
//!
//! The peer address is the TCP peer. `X-Forwarded-For` is not trusted: anyone could send it.
//! Behind the gateway, a service's allowlist therefore names the gateway's address.
//!
//! Callers are the fleet (the `[auth] token` the services share), named client tokens with
//! roles and scopes ([`crate::clients`], [`crate::access`]), or anyone on an open fleet.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::AUTHORIZATION;
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use crate::access::{self, CLIENT_HEADER, FLEET, Principal, Via};
use crate::audit::{AuditLine, AuditLog, AuditTarget};
use crate::clients::{ClientToken, digest};
use crate::config::ConfigError;
use crate::error::ApiError;

/// The resolved auth settings of a service.
#[derive(Clone, Default)]
pub struct AuthPolicy {
    token: Option<Arc<str>>,
    allowed: Option<Arc<[IpNet]>>,
    clients: Arc<[ClientToken]>,
    audit: Arc<AuditLog>,
}

impl std::fmt::Debug for AuthPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPolicy")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allowed", &self.allowed)
            .field("clients", &self.clients)
            .finish()
    }
}

impl AuthPolicy {
    /// Builds a policy. Unparseable allowlist entries are logged and dropped; if entries were
    /// given and none parses, this fails.
    pub fn from_config(token: Option<String>, allowed_ips: &[String]) -> Result<Self, ConfigError> {
        let allowed = if allowed_ips.is_empty() {
            None
        } else {
            let mut nets = Vec::new();
            for entry in allowed_ips {
                match parse_net(entry) {
                    Some(net) => nets.push(net),
                    None => {
                        tracing::warn!(entry = %entry, "auth.allowed_ips: unparseable entry dropped");
                    }
                }
            }
            if nets.is_empty() {
                return Err(ConfigError::invalid(
                    "auth.allowed_ips",
                    format!(
                        "none of the {} entries parses as an IP or CIDR ({}); refusing to start \
                         rather than allow every address",
                        allowed_ips.len(),
                        allowed_ips.join(", ")
                    ),
                ));
            }
            Some(nets.into())
        };
        Ok(Self {
            token: token.map(Arc::from),
            allowed,
            clients: Arc::new([]),
            audit: Arc::default(),
        })
    }

    /// Adds named client tokens (resolved by [`crate::clients::resolve`]).
    pub fn with_clients(mut self, clients: Vec<ClientToken>) -> Self {
        self.clients = clients.into();
        self
    }

    /// Writes the audit log to `path` (`None`: nowhere).
    pub fn with_audit_log(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.audit = Arc::new(AuditLog::new(path));
        self
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The token, when one is required.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The parsed allowlist, when one is set.
    pub fn allowed(&self) -> Option<&[IpNet]> {
        self.allowed.as_deref()
    }

    /// Refuses a non-loopback bind without a token: that would expose an open service.
    pub fn check_bind(&self, key: &str, bind: SocketAddr) -> Result<(), ConfigError> {
        if self.token.is_none() && !bind.ip().is_loopback() {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "{bind} is not a loopback address and no auth token is set: anyone who can \
                     reach it could read and write data. Set [auth] token, token_file or \
                     LAKEHOUSE_AUTH_TOKEN, or bind to 127.0.0.1"
                ),
            ));
        }
        Ok(())
    }

    /// Checks one request: allowlist first (403), then token (401).
    pub fn check(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&[u8]>,
    ) -> Result<(), ApiError> {
        self.authenticate(peer, authorization, None).map(drop)
    }

    /// Who is calling: allowlist first (403), then the token (401). `client` is the
    /// gateway's [`CLIENT_HEADER`], honoured only together with the fleet token.
    pub fn authenticate(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&[u8]>,
        client: Option<&[u8]>,
    ) -> Result<Principal, ApiError> {
        if let Some(nets) = &self.allowed {
            let ok = peer
                .map(canonical)
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)));
            if !ok {
                return Err(ApiError::forbidden("source address is not allowed"));
            }
        }
        let Some(token) = &self.token else {
            // An open (loopback-only) fleet: everyone is admin; a gateway-named caller is
            // still audited.
            return Ok(match client {
                Some(_) => Principal {
                    via: Via::Gateway,
                    ..Principal::open()
                },
                None => Principal::open(),
            });
        };
        let Some(presented) = authorization.and_then(bearer) else {
            return Err(ApiError::unauthorized(
                "missing bearer token (send 'Authorization: Bearer <token>')",
            ));
        };
        if bool::from(presented.ct_eq(token.as_bytes())) {
            return match client {
                None => Ok(Principal::fleet(Via::Fleet)),
                Some(name) if name == FLEET.as_bytes() => Ok(Principal::fleet(Via::Gateway)),
                Some(name) => self
                    .clients
                    .iter()
                    .find(|c| c.name().as_bytes() == name)
                    .map(|c| c.principal(Via::Gateway))
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "the gateway named a client this service does not know (do all \
                             services read the same [auth] section?)",
                        )
                    }),
            };
        }
        // Every digest is compared, so the time taken does not say which client matched.
        let d = digest(presented);
        let mut found = None;
        for c in self.clients.iter() {
            if bool::from(c.digest().ct_eq(&d)) {
                found = Some(c);
            }
        }
        found
            .map(|c| c.principal(Via::Direct))
            .ok_or_else(|| ApiError::unauthorized("invalid bearer token"))
    }
}

/// A bare IP means a single host (/32 or /128).
fn parse_net(entry: &str) -> Option<IpNet> {
    let e = entry.trim();
    e.parse::<IpNet>()
        .ok()
        .or_else(|| e.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| match n {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) => {
                    IpNet::new(IpAddr::V4(v4), v6.prefix_len().saturating_sub(96)).unwrap_or(n)
                }
                None => n,
            },
            IpNet::V4(_) => n,
        })
}

/// IPv4-mapped IPv6 peers (`::ffff:1.2.3.4`) are matched as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// What the auth middleware of one service needs.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The policy.
    pub policy: AuthPolicy,
    /// The service's name, for audit lines.
    pub service: &'static str,
}

impl Guard {
    /// The edge names callers; it never takes a name from one (a client holding the fleet
    /// token could otherwise act as any client).
    fn is_edge(&self) -> bool {
        self.service == "gateway"
    }
}

/// Middleware: authenticates the caller, authorizes the request line ([`access::need`]),
/// puts the [`Principal`] into the request's extensions for handlers that check targets
/// named in bodies, and writes the audit line of a mutation. Add it only to routes that are
/// not public.
pub async fn require_auth(State(guard): State<Guard>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let authz = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    let client = req
        .headers()
        .get(CLIENT_HEADER)
        .filter(|_| !guard.is_edge())
        .map(|v| v.as_bytes());
    let principal = match guard.policy.authenticate(peer, authz, client) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let need = access::need(req.method(), req.uri().path(), req.uri().query());
    // Cheap handles (reference-counted), turned into text only when a line is written.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let forwarded = req.headers().get("x-forwarded-for").cloned();
    let audit = |status: StatusCode, target: Option<String>, outcome: &str| {
        guard.policy.audit().record(&AuditLine {
            time: crate::audit::now(),
            service: guard.service,
            token: &principal.name,
            role: principal.role.as_str(),
            source: source_of(forwarded.as_ref(), peer, &principal),
            method: method.as_str(),
            route: uri.path(),
            target,
            status: status.as_u16(),
            outcome,
            request_id: crate::request_id::current().unwrap_or_default(),
        });
    };
    if let Err(denied) = principal.authorize(&need) {
        if need.mutation || matches!(denied, access::Denied::Reserved { .. }) {
            audit(StatusCode::FORBIDDEN, need.target(), "denied");
        }
        return ApiError::from(denied).into_response();
    }
    req.extensions_mut().insert(principal.clone());
    let res = next.run(req).await;
    // The gateway's own successes are written by the service that performs them.
    if need.mutation && principal.audited() && !guard.is_edge() {
        let status = res.status();
        let target = res
            .extensions()
            .get::<AuditTarget>()
            .map(|t| t.0.clone())
            .or_else(|| need.target());
        let outcome = match status.as_u16() {
            200..=399 => "ok",
            401 | 403 => "denied",
            _ => "failed",
        };
        audit(status, target, outcome);
    }
    res
}

/// The caller's address: behind the gateway, the address the gateway saw (the last entry it
/// appended to `X-Forwarded-For`); otherwise the TCP peer. Only the gateway's word is taken.
fn source_of(
    forwarded: Option<&http::HeaderValue>,
    peer: Option<IpAddr>,
    principal: &Principal,
) -> String {
    let forwarded = forwarded
        .filter(|_| principal.via == Via::Gateway)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned());
    forwarded
        .or_else(|| peer.map(|p| p.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"abc"), None);
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }

    #[test]
    fn allowlist_rules() {
        let p = AuthPolicy::from_config(
            None,
            &["10.0.0.0/8".into(), "192.168.1.7".into(), "junk".into()],
        )
        .unwrap();
        assert_eq!(p.allowed().unwrap().len(), 2);
        assert!(p.check(ip("10.1.2.3"), None).is_ok());
        assert!(p.check(ip("192.168.1.7"), None).is_ok());
        assert!(p.check(ip("192.168.1.8"), None).is_err());
        assert!(p.check(ip("::ffff:10.9.9.9"), None).is_ok());
        assert!(p.check(None, None).is_err());
        let e = AuthPolicy::from_config(None, &["junk".into(), "10.0.0.0/33".into()]).unwrap_err();
        assert!(e.to_string().contains("auth.allowed_ips"));
    }

    #[test]
    fn bind_safety() {
        let open = AuthPolicy::default();
        assert!(
            open.check_bind("x.bind", "127.0.0.1:1".parse().unwrap())
                .is_ok()
        );
        assert!(
            open.check_bind("x.bind", "[::1]:1".parse().unwrap())
                .is_ok()
        );
        let e = open
            .check_bind("x.bind", "0.0.0.0:1".parse().unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("x.bind"));
        let closed = AuthPolicy::from_config(Some("t".into()), &[]).unwrap();
        assert!(
            closed
                .check_bind("x.bind", "0.0.0.0:1".parse().unwrap())
                .is_ok()
        );
    }
}
