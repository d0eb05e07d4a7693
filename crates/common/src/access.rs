//! Who may do what. A caller is a [`Principal`]: the fleet itself (the `[auth] token` the
//! services share), a named client token with a [`Role`] and optional [`Scopes`], or anyone
//! at all on an open loopback fleet. [`need`] ([`crate::policy`]) reads what a request asks for from
//! its method, path and query alone, so the gateway and every service decide the same way; routes that
//! name their target in the body (register, append, index create, merge, SQL) check the
//! scopes in the service that reads the body.
//!
//! Roles: `read` (GET/HEAD, SQL, search, model calls), `write` (plus ingest, register and
//! append, index create, add, delete items and merge, storage writes), `admin` (everything,
//! including the internal prefixes, catalog deletes and index deletes).

use std::sync::Arc;

use lakehouse_types::key::is_internal;
use serde::Deserialize;

pub use crate::policy::{Need, need};

/// What a token may do, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads, SQL, searches.
    Read,
    /// Reads and additive or in-place writes.
    Write,
    /// Everything.
    Admin,
}

impl Role {
    /// The name used in config, logs and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// Name patterns: `*` matches any run of characters, anything else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    /// Patterns as configured.
    pub fn new(patterns: Vec<String>) -> Self {
        Self(patterns)
    }

    /// Whether any pattern matches `name` (exactly: SQL names are matched lowercased by the
    /// caller when it needs to).
    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|p| glob(p.as_bytes(), name.as_bytes()))
    }

    /// The patterns, for messages.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// `*`-only glob, iterative with one backtrack point (linear in practice, never exponential).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Which datasets and indexes a token reaches; `None` is all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    /// Dataset name patterns.
    pub datasets: Option<Patterns>,
    /// Vector index name patterns.
    pub indexes: Option<Patterns>,
}

/// How a principal was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// No auth is configured (a loopback-only fleet): everyone is admin.
    Open,
    /// The fleet token, called directly: one service calling another.
    Fleet,
    /// A client token presented to this service.
    Direct,
    /// Named by the gateway, which authenticated the caller and called with the fleet token.
    Gateway,
}

/// The caller of a request, put into its extensions by the auth middleware.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Token name (`fleet` for the fleet token, `anonymous` on an open fleet); logged, never
    /// the token itself.
    pub name: Arc<str>,
    /// What it may do.
    pub role: Role,
    /// What it may reach.
    pub scopes: Arc<Scopes>,
    /// How it was established.
    pub via: Via,
}

/// The name the fleet token acts under.
pub const FLEET: &str = "fleet";
/// The name every caller of an open fleet acts under.
pub const ANONYMOUS: &str = "anonymous";
/// The header through which the gateway names the client it authenticated. Services honour
/// it only on requests that carry the fleet token; the gateway drops any copy a client sends.
pub const CLIENT_HEADER: &str = "x-lakehouse-client";

/// Why a request was refused (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role is too small for the route.
    #[error("token '{name}' has role '{have}'; this route needs '{need}'", have = .have.as_str(), need = .need.as_str())]
    Role {
        /// Token name.
        name: String,
        /// Its role.
        have: Role,
        /// The role the route needs.
        need: Role,
    },
    /// The target is outside the token's scopes.
    #[error("token '{name}' is not scoped to {what} '{target}'")]
    Scope {
        /// Token name.
        name: String,
        /// `dataset` or `index`.
        what: &'static str,
        /// The name refused.
        target: String,
    },
    /// The key lies under an internal prefix.
    #[error("'{key}' lies under an internal prefix ({}); only an admin token may touch it", lakehouse_types::INTERNAL_PREFIXES.join(", "))]
    Reserved {
        /// The key or prefix.
        key: String,
    },
}

impl Denied {
    /// The error code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Reserved { .. } => "reserved_key",
            Self::Role { .. } | Self::Scope { .. } => "forbidden",
        }
    }
}

impl Principal {
    /// The caller of an open fleet.
    pub fn open() -> Self {
        Self::unscoped(ANONYMOUS, Via::Open)
    }

    /// The fleet token.
    pub fn fleet(via: Via) -> Self {
        Self::unscoped(FLEET, via)
    }

    fn unscoped(name: &str, via: Via) -> Self {
        Self {
            name: name.into(),
            role: Role::Admin,
            scopes: Arc::default(),
            via,
        }
    }

    /// Whether this caller's mutations are written to the audit log by the service that
    /// performs them: a client token, or anyone the gateway named; not one service calling
    /// another (on an open fleet too: its internal calls carry no name).
    pub fn audited(&self) -> bool {
        matches!(self.via, Via::Direct | Via::Gateway)
    }

    /// Refuses a role below `need`.
    pub fn require_role(&self, need: Role) -> Result<(), Denied> {
        if self.role >= need {
            return Ok(());
        }
        Err(Denied::Role {
            name: self.name.to_string(),
            have: self.role,
            need,
        })
    }

    /// Whether dataset `name` is in scope (case-insensitively: SQL folds names).
    pub fn may_dataset(&self, name: &str) -> bool {
        self.scopes
            .datasets
            .as_ref()
            .is_none_or(|p| p.matches(name) || p.matches(&name.to_ascii_lowercase()))
    }

    /// Whether the token is limited to some datasets.
    pub fn dataset_scoped(&self) -> bool {
        self.scopes.datasets.is_some()
    }

    /// Refuses dataset `name` when out of scope.
    pub fn require_dataset(&self, name: &str) -> Result<(), Denied> {
        if self.may_dataset(name) {
            return Ok(());
        }
        Err(self.out_of_scope("dataset", name))
    }

    /// Whether index `name` is in scope.
    pub fn may_index(&self, name: &str) -> bool {
        self.scopes.indexes.as_ref().is_none_or(|p| p.matches(name))
    }

    /// Refuses index `name` when out of scope.
    pub fn require_index(&self, name: &str) -> Result<(), Denied> {
        if self.may_index(name) {
            return Ok(());
        }
        Err(self.out_of_scope("index", name))
    }

    /// Whether `key` (or a listing prefix) may be reached: internal keys need admin; a token
    /// scoped to datasets reaches only keys under `datasets/<name>/` or `<name>/` of a
    /// dataset in scope.
    pub fn require_key(&self, key: &str) -> Result<(), Denied> {
        if is_internal(key) && self.role < Role::Admin {
            return Err(Denied::Reserved {
                key: key.to_owned(),
            });
        }
        if !self.dataset_scoped() {
            return Ok(());
        }
        match key_dataset(key) {
            Some(d) if self.may_dataset(d) => Ok(()),
            Some(d) => Err(self.out_of_scope("dataset", d)),
            None => Err(self.out_of_scope("dataset", key)),
        }
    }

    fn out_of_scope(&self, what: &'static str, target: &str) -> Denied {
        Denied::Scope {
            name: self.name.to_string(),
            what,
            target: target.to_owned(),
        }
    }

    /// Checks everything [`need`] found in the request line.
    pub fn authorize(&self, need: &Need) -> Result<(), Denied> {
        self.require_role(need.role)?;
        if let Some(d) = &need.dataset {
            self.require_dataset(d)?;
        }
        if let Some(i) = &need.index {
            self.require_index(i)?;
        }
        if let Some(k) = &need.key {
            self.require_key(k)?;
        }
        Ok(())
    }
}

impl From<Denied> for crate::ApiError {
    fn from(d: Denied) -> Self {
        Self::forbidden(d.to_string()).with_code(d.code())
    }
}

/// The caller a handler sees: the principal the auth middleware established, or (on a router
/// used without it, as in tests of a handler alone) an open caller.
pub fn caller(ext: Option<axum::Extension<Principal>>) -> Principal {
    ext.map_or_else(Principal::open, |axum::Extension(p)| p)
}

/// The dataset a storage key or prefix belongs to: `datasets/<name>/…` or `<name>/…`, when
/// that segment is complete.
fn key_dataset(key: &str) -> Option<&str> {
    let (first, rest) = key.split_once('/')?;
    if first == "datasets" {
        return rest.split_once('/').map(|(d, _)| d);
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    fn client(role: Role, datasets: Option<&[&str]>, indexes: Option<&[&str]>) -> Principal {
        let p = |v: &[&str]| Patterns::new(v.iter().map(|s| (*s).to_owned()).collect());
        Principal {
            name: "c".into(),
            role,
            scopes: Arc::new(Scopes {
                datasets: datasets.map(p),
                indexes: indexes.map(p),
            }),
            via: Via::Direct,
        }
    }

    #[test]
    fn globs() {
        let p = Patterns::new(vec![
            "sales*".into(),
            "*_eu".into(),
            "exact".into(),
            "a*b*c".into(),
        ]);
        for ok in [
            "sales",
            "sales_2024",
            "x_eu",
            "exact",
            "abc",
            "aXbYc",
            "abbc",
        ] {
            assert!(p.matches(ok), "{ok}");
        }
        for no in ["sale", "exactly", "x_us", "ab", "acb", ""] {
            assert!(!p.matches(no), "{no}");
        }
        assert!(Patterns::new(vec!["*".into()]).matches(""));
        // Many stars against a long miss stays fast (no exponential backtracking).
        let evil = Patterns::new(vec!["*a*a*a*a*a*a*a*a*a*b".into()]);
        assert!(!evil.matches(&"a".repeat(5000)));
    }

    #[test]
    fn internal_keys_need_admin() {
        let w = client(Role::Write, None, None);
        let put = need(
            &Method::PUT,
            "/storage/objects/%5Fcatalog/manifests/a.json",
            None,
        );
        assert_eq!(w.authorize(&put).unwrap_err().code(), "reserved_key");
        let get = need(&Method::GET, "/storage/objects/_vectors/a.lhv1", None);
        assert!(client(Role::Read, None, None).authorize(&get).is_err());
        assert!(client(Role::Admin, None, None).authorize(&put).is_ok());
        assert!(Principal::fleet(Via::Fleet).authorize(&put).is_ok());
        let list = need(&Method::GET, "/storage/list", Some("prefix=_receipts/"));
        assert!(w.authorize(&list).is_err());
        let list = need(&Method::GET, "/storage/list", Some("prefix=raw/"));
        assert!(w.authorize(&list).is_ok());
    }

    #[test]
    fn scopes_limit_names_and_keys() {
        let c = client(Role::Write, Some(&["sales*", "raw"]), Some(&["docs"]));
        assert!(c.require_dataset("sales_eu").is_ok());
        assert!(c.require_dataset("SALES").is_ok());
        assert!(c.require_dataset("hr").is_err());
        assert!(c.require_index("docs").is_ok());
        assert!(c.require_index("secrets").is_err());
        for ok in [
            "datasets/sales/a.parquet",
            "sales_eu/day=1/x",
            "raw/openai/x.jsonl",
        ] {
            assert!(c.require_key(ok).is_ok(), "{ok}");
        }
        for no in ["datasets/hr/a.parquet", "hr/x", "datasets/", "", "top"] {
            assert!(c.require_key(no).is_err(), "{no}");
        }
        let r = client(Role::Read, None, None);
        let e = r
            .authorize(&need(&Method::POST, "/ingest", Some("name=x")))
            .unwrap_err();
        assert!(
            e.to_string().contains("'read'") && e.to_string().contains("'write'"),
            "{e}"
        );
    }
}
