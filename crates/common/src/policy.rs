//! The route policy: what one request needs (a role, and the dataset, index or storage key it
//! names), read from its method, percent-encoded path and query alone, so the gateway (on the
//! public `/v1` path) and every service decide alike.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::access::Role;

/// What a request needs, read from its request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The smallest role allowed.
    pub role: Role,
    /// Whether the request changes state (and is audited).
    pub mutation: bool,
    /// A dataset named in the path or query.
    pub dataset: Option<String>,
    /// An index named in the path.
    pub index: Option<String>,
    /// A storage key (decoded) or listing prefix.
    pub key: Option<String>,
}

impl Need {
    fn role(role: Role) -> Self {
        Self {
            role,
            mutation: role > Role::Read,
            dataset: None,
            index: None,
            key: None,
        }
    }

    /// What the audit log names as the target.
    pub fn target(&self) -> Option<String> {
        self.dataset
            .as_ref()
            .map(|d| format!("dataset:{d}"))
            .or_else(|| self.index.as_ref().map(|i| format!("index:{i}")))
            .or_else(|| self.key.as_ref().map(|k| format!("key:{k}")))
    }
}

fn decoded(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decoded(k) == name).then(|| decoded(&v.replace('+', " ")))
    })
}

/// What a request needs. `path` is the path as received (percent-encoded; the gateway's
/// `/v1` prefix is dropped here), so the gateway and the service decide alike.
pub fn need(method: &Method, path: &str, query: Option<&str>) -> Need {
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let reading = matches!(*method, Method::GET | Method::HEAD);
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let write = |r| if reading { Role::Read } else { r };
    match segs.as_slice() {
        ["storage", "objects", ..] => {
            let raw = path
                .trim_start_matches('/')
                .strip_prefix("storage/objects/")
                .unwrap_or("");
            Need {
                key: Some(decoded(raw)),
                ..Need::role(write(Role::Write))
            }
        }
        ["storage", "list"] => Need {
            key: Some(query_param(query, "prefix").unwrap_or_default()),
            ..Need::role(write(Role::Admin))
        },
        ["catalog", "manifest", name, ..] => {
            let role = match *method {
                Method::GET | Method::HEAD => Role::Read,
                _ => Role::Admin,
            };
            Need {
                dataset: Some(decoded(name)),
                ..Need::role(role)
            }
        }
        ["catalog", "register" | "append"] => Need::role(write(Role::Write)),
        // Reading which state of an index a version holds; committing one is vectord's.
        ["catalog", "index", name, ..] => Need {
            index: Some(decoded(name)),
            ..Need::role(write(Role::Admin))
        },
        // The Iceberg REST catalog is read-only: reads need `read` and the table's scope.
        ["iceberg", "v1", "namespaces", _, "tables", table] => Need {
            dataset: Some(decoded(table)),
            ..Need::role(write(Role::Admin))
        },
        ["ingest"] => Need {
            dataset: query_param(query, "name"),
            ..Need::role(write(Role::Write))
        },
        ["sql"] | ["embeddings"] | ["chat", ..] => Need::role(Role::Read),
        // The gateway's report of every service's readiness.
        ["health"] if reading => Need::role(Role::Read),
        // The API's own description.
        ["openapi.json"] if reading => Need::role(Role::Read),
        ["vectors", "index"] => Need::role(write(Role::Write)),
        ["vectors", "index", name] => Need {
            index: Some(decoded(name)),
            ..Need::role(write(Role::Admin))
        },
        ["vectors", "index", name, op, ..] => {
            let role = match *op {
                _ if reading => Role::Read,
                "search" => Role::Read,
                "add" | "delete" | "merge" | "commit" => Role::Write,
                _ => Role::Admin,
            };
            Need {
                index: Some(decoded(name)),
                ..Need::role(role)
            }
        }
        _ => Need::role(write(Role::Admin)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_roles() {
        use Role::{Admin, Read, Write};
        let cases: &[(Method, &str, Option<&str>, Role)] = &[
            (Method::GET, "/v1/storage/objects/a/b", None, Read),
            (Method::PUT, "/v1/storage/objects/a/b", None, Write),
            (Method::DELETE, "/storage/objects/a", None, Write),
            (Method::GET, "/storage/list", Some("prefix=raw/"), Read),
            (Method::GET, "/catalog/manifest/x", None, Read),
            (Method::DELETE, "/catalog/manifest/x", None, Admin),
            (Method::POST, "/catalog/manifest/x/rollback", None, Admin),
            (Method::POST, "/catalog/register", None, Write),
            (Method::POST, "/catalog/append", None, Write),
            (Method::GET, "/catalog/list", None, Read),
            (Method::GET, "/iceberg/v1/config", None, Read),
            (Method::GET, "/v1/health", None, Read),
            (Method::GET, "/v1/openapi.json", None, Read),
            (Method::PUT, "/v1/openapi.json", None, Admin),
            (Method::POST, "/v1/health", None, Admin),
            (
                Method::HEAD,
                "/iceberg/v1/namespaces/lakehouse/tables/x",
                None,
                Read,
            ),
            (
                Method::POST,
                "/iceberg/v1/namespaces/lakehouse/tables",
                None,
                Admin,
            ),
            (Method::POST, "/ingest", Some("name=x"), Write),
            (Method::POST, "/sql", None, Read),
            (Method::GET, "/sql/tables", None, Read),
            (Method::POST, "/vectors/index", None, Write),
            (Method::GET, "/vectors/index", None, Read),
            (Method::DELETE, "/vectors/index/i", None, Admin),
            (Method::POST, "/vectors/index/i/search", None, Read),
            (Method::POST, "/vectors/index/i/add", None, Write),
            (Method::POST, "/vectors/index/i/delete", None, Write),
            (Method::POST, "/vectors/index/i/merge", None, Write),
            (Method::GET, "/vectors/index/i/items/x", None, Read),
            (Method::POST, "/v1/embeddings", None, Read),
            (Method::POST, "/v1/chat/completions", None, Read),
            (Method::GET, "/metrics", None, Read),
            (Method::POST, "/something/new", None, Admin),
            (Method::PATCH, "/catalog/list", None, Admin),
        ];
        for (m, path, q, role) in cases {
            assert_eq!(need(m, path, *q).role, *role, "{m} {path}");
        }
    }

    #[test]
    fn targets_are_decoded() {
        let n = need(
            &Method::PUT,
            "/v1/storage/objects/%5Fcatalog%2Fmanifests/x.json",
            None,
        );
        assert_eq!(n.key.as_deref(), Some("_catalog/manifests/x.json"));
        let n = need(&Method::POST, "/ingest", Some("mode=append&name=sa%6Ces"));
        assert_eq!(n.dataset.as_deref(), Some("sales"));
        let n = need(&Method::POST, "/vectors/index/d%6Fcs/add", None);
        assert_eq!(n.index.as_deref(), Some("docs"));
        assert_eq!(n.target().as_deref(), Some("index:docs"));
    }
}
