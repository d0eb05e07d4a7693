//! `[[auth.clients]]`: named client tokens with a role and optional scopes. Only the sha256 of
//! each token is kept in memory (or ever written in config); a presented token is hashed and
//! compared in constant time against every client's digest.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::access::{ANONYMOUS, FLEET, Patterns, Principal, Role, Scopes, Via};
use crate::config::{ConfigError, Env};

/// A raw token read from a file or the environment must be at least this long: hashing with
/// sha256 is safe only for high-entropy secrets (e.g. `openssl rand -hex 32`).
pub const MIN_TOKEN_BYTES: usize = 32;

/// One `[[auth.clients]]` entry. Exactly one of `token_sha256`, `token_file`, `token_env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Name written in logs and the audit log.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: Role,
    /// Hex sha256 of the token: the token itself never needs to be in the file.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// A file holding the token (e.g. a systemd credential).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Dataset name patterns (`*` wildcard); omitted: every dataset.
    #[serde(default)]
    pub datasets: Option<Vec<String>>,
    /// Vector index name patterns; omitted: every index.
    #[serde(default)]
    pub indexes: Option<Vec<String>>,
}

/// A client token, resolved: its digest and who it makes the caller.
#[derive(Clone)]
pub struct ClientToken {
    digest: [u8; 32],
    principal: Principal,
}

impl std::fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientToken")
            .field("name", &self.principal.name)
            .field("role", &self.principal.role)
            .finish_non_exhaustive()
    }
}

impl ClientToken {
    /// The token's sha256.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The caller this token makes, established `via`.
    pub fn principal(&self, via: Via) -> Principal {
        Principal {
            via,
            ..self.principal.clone()
        }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.principal.name
    }
}

/// sha256 of a token.
pub fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

fn patterns(key: &str, list: Option<&Vec<String>>) -> Result<Option<Patterns>, ConfigError> {
    let Some(list) = list else {
        return Ok(None);
    };
    if list.is_empty() {
        return Err(ConfigError::invalid(
            key,
            "an empty list would reach nothing; omit the key to reach everything",
        ));
    }
    for p in list {
        let bare = p.replace('*', "x");
        if p.is_empty() || lakehouse_types::name_error("pattern", &bare).is_some() {
            return Err(ConfigError::invalid(
                key,
                format!("'{p}' is not a name pattern (letters, digits, '_', '-', '.', and '*')"),
            ));
        }
    }
    Ok(Some(Patterns::new(list.clone())))
}

fn raw_token(key: &str, raw: Option<String>, source: &str) -> Result<[u8; 32], ConfigError> {
    let raw = raw.ok_or_else(|| ConfigError::invalid(key, format!("{source} is not set")))?;
    let t = raw.trim_end_matches(['\n', '\r']);
    if t.len() < MIN_TOKEN_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!(
                "the token in {source} is {} bytes; client tokens need at least \
                 {MIN_TOKEN_BYTES} (e.g. `openssl rand -hex 32`)",
                t.len()
            ),
        ));
    }
    Ok(digest(t.as_bytes()))
}

/// Resolves every client, naming the first bad key (`auth.clients[i].…`).
pub fn resolve(
    clients: &[ClientConfig],
    fleet_token: Option<&str>,
    env: &dyn Env,
) -> Result<Vec<ClientToken>, ConfigError> {
    if !clients.is_empty() && fleet_token.is_none() {
        return Err(ConfigError::invalid(
            "auth.clients",
            "client tokens need the fleet token ([auth] token, token_file or \
             LAKEHOUSE_AUTH_TOKEN): the services use it to call each other",
        ));
    }
    let mut out: Vec<ClientToken> = Vec::with_capacity(clients.len());
    for (i, c) in clients.iter().enumerate() {
        let key = |k: &str| format!("auth.clients[{i}].{k}");
        if let Some(e) = lakehouse_types::name_error("client", &c.name) {
            return Err(ConfigError::invalid(&key("name"), e));
        }
        if c.name == FLEET || c.name == ANONYMOUS {
            return Err(ConfigError::invalid(
                &key("name"),
                format!("'{}' is reserved", c.name),
            ));
        }
        if out.iter().any(|o| o.name() == c.name) {
            return Err(ConfigError::invalid(
                &key("name"),
                format!("'{}' names two clients", c.name),
            ));
        }
        let digest = match (&c.token_sha256, &c.token_file, &c.token_env) {
            (Some(hex_digest), None, None) => {
                let mut d = [0u8; 32];
                hex::decode_to_slice(hex_digest.trim(), &mut d).map_err(|_| {
                    ConfigError::invalid(&key("token_sha256"), "must be 64 hex digits")
                })?;
                d
            }
            (None, Some(path), None) => raw_token(
                &key("token_file"),
                std::fs::read_to_string(path).ok(),
                &format!("file {}", path.display()),
            )?,
            (None, None, Some(var)) => raw_token(
                &key("token_env"),
                env.var(var),
                &format!("environment variable {var}"),
            )?,
            _ => {
                return Err(ConfigError::invalid(
                    &key("token_sha256"),
                    "give exactly one of token_sha256, token_file and token_env",
                ));
            }
        };
        if fleet_token.is_some_and(|f| self::digest(f.as_bytes()) == digest)
            || out.iter().any(|o| o.digest == digest)
        {
            return Err(ConfigError::invalid(
                &key("name"),
                "this token is already the fleet token or another client's",
            ));
        }
        let scopes = Scopes {
            datasets: patterns(&key("datasets"), c.datasets.as_ref())?,
            indexes: patterns(&key("indexes"), c.indexes.as_ref())?,
        };
        out.push(ClientToken {
            digest,
            principal: Principal {
                name: c.name.as_str().into(),
                role: c.role,
                scopes: Arc::new(scopes),
                via: Via::Direct,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Via;
    use crate::auth::AuthPolicy;

    fn load(extra: &str, env: &[(&str, &str)]) -> Result<crate::LoadedConfig, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        crate::Config::from_toml(
            &format!("[auth]\ntoken = \"fleet-secret\"\naudit_log = \"\"\n{extra}"),
            std::path::Path::new("t.toml"),
            &lookup,
        )
        .map_err(|e| e.to_string())
    }

    const LONG: &str = "0123456789abcdef0123456789abcdef-reader";

    #[test]
    fn clients_resolve_and_bad_entries_name_their_key() {
        let sha = hex::encode(digest(b"another-token-of-enough-length-000000"));
        let ok = load(
            &format!(
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\ndatasets = [\"a*\"]\n\
                 [[auth.clients]]\nname = \"w\"\nrole = \"write\"\ntoken_sha256 = \"{sha}\"\n"
            ),
            &[("R", LONG)],
        )
        .unwrap();
        let p = ok
            .auth
            .authenticate(None, Some(format!("Bearer {LONG}").as_bytes()), None)
            .unwrap();
        assert_eq!((&*p.name, p.role, p.via), ("r", Role::Read, Via::Direct));
        assert!(p.may_dataset("abc") && !p.may_dataset("b"));
        let p = ok
            .auth
            .authenticate(
                None,
                Some(b"Bearer another-token-of-enough-length-000000"),
                None,
            )
            .unwrap();
        assert_eq!(p.role, Role::Write);

        for (extra, env, key) in [
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\n",
                vec![("R", "short")],
                "auth.clients[0].token_env",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"NOPE\"\n",
                vec![],
                "auth.clients[0].token_env",
            ),
            (
                "[[auth.clients]]\nname = \"fleet\"\nrole = \"read\"\ntoken_env = \"R\"\n",
                vec![("R", LONG)],
                "auth.clients[0].name",
            ),
            (
                "[[auth.clients]]\nname = \"a b\"\nrole = \"read\"\ntoken_env = \"R\"\n",
                vec![("R", LONG)],
                "auth.clients[0].name",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_sha256 = \"xyz\"\n",
                vec![],
                "auth.clients[0].token_sha256",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\n",
                vec![],
                "auth.clients[0].token_sha256",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\ndatasets = []\n",
                vec![("R", LONG)],
                "auth.clients[0].datasets",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\nindexes = [\"a/b\"]\n",
                vec![("R", LONG)],
                "auth.clients[0].indexes",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\n[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"S\"\n",
                vec![("R", LONG), ("S", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")],
                "auth.clients[1].name",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\n[[auth.clients]]\nname = \"s\"\nrole = \"read\"\ntoken_env = \"R\"\n",
                vec![("R", LONG)],
                "auth.clients[1].name",
            ),
            (
                "[[auth.clients]]\nname = \"r\"\nrole = \"boss\"\ntoken_env = \"R\"\n",
                vec![("R", LONG)],
                "role",
            ),
        ] {
            let e = load(extra, &env).unwrap_err();
            assert!(e.contains(key), "{extra}: {e}");
        }
        let e = crate::Config::from_toml(
            "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\n",
            std::path::Path::new("t"),
            &|k: &str| (k == "R").then(|| LONG.to_owned()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("need the fleet token"), "{e}");
    }

    #[test]
    fn the_gateway_names_clients_only_with_the_fleet_token() {
        let c = load(
            "[[auth.clients]]\nname = \"r\"\nrole = \"read\"\ntoken_env = \"R\"\n",
            &[("R", LONG)],
        )
        .unwrap();
        let a: &AuthPolicy = &c.auth;
        let fleet = Some(&b"Bearer fleet-secret"[..]);
        let p = a.authenticate(None, fleet, None).unwrap();
        assert_eq!(
            (&*p.name, p.role, p.via),
            ("fleet", Role::Admin, Via::Fleet)
        );
        assert!(!p.audited());
        let p = a.authenticate(None, fleet, Some(b"r")).unwrap();
        assert_eq!((&*p.name, p.role, p.via), ("r", Role::Read, Via::Gateway));
        assert!(p.audited());
        let p = a.authenticate(None, fleet, Some(b"fleet")).unwrap();
        assert_eq!((p.role, p.via), (Role::Admin, Via::Gateway));
        assert!(a.authenticate(None, fleet, Some(b"ghost")).is_err());
        // A client naming someone else is still itself.
        let mine = format!("Bearer {LONG}");
        let p = a
            .authenticate(None, Some(mine.as_bytes()), Some(b"fleet"))
            .unwrap();
        assert_eq!((&*p.name, p.role), ("r", Role::Read));
        assert!(a.authenticate(None, Some(b"Bearer nope"), None).is_err());
        assert!(a.authenticate(None, None, Some(b"r")).is_err());
        // Debug output never holds a token.
        assert!(!format!("{a:?}").contains(LONG) && !format!("{a:?}").contains("fleet-secret"));
    }
}
