//! The routing table: which `/v1` prefix goes to which upstream, with which body cap and
//! which credentials. Kept as data so the whole public surface reads in one place.

use std::sync::Arc;

use lakehouse_common::config::{Config, Instances as Urls};

use crate::instances::Instances;

/// Credentials the gateway sends upstream.
#[derive(Debug, Clone)]
pub enum UpstreamAuth {
    /// Our own services: the fleet's bearer token (if any).
    Internal(Option<String>),
    /// An outside model server: its own API key (if any), never our token.
    External(Option<String>),
}

/// How a request picks one of an upstream's instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Round-robin over the healthy ones (stateless services; catalogd's pair).
    Balanced,
    /// The owner of the index the path or body names (vectord's shards).
    ByIndexName,
}

/// One upstream and the public routes that reach it.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Service name for messages and readiness.
    pub name: &'static str,
    /// Its instances (none when not configured).
    pub instances: Arc<Instances>,
    /// Route patterns under `/v1` that go here.
    pub routes: &'static [&'static str],
    /// Largest request body forwarded.
    pub max_body: u64,
    /// Credentials to send.
    pub auth: UpstreamAuth,
    /// Whether `/ready` requires this upstream.
    pub required: bool,
    /// How an instance is chosen.
    pub placement: Placement,
}

const MIB: u64 = 1 << 20;

/// The routing table for a config.
pub fn table(
    config: &Config,
    token: Option<&str>,
    chat_key: Option<String>,
    embed_key: Option<String>,
) -> Vec<Upstream> {
    let g = &config.gateway;
    let internal = |name, urls: &Urls, routes, max_body| Upstream {
        name,
        instances: Instances::new(
            urls.0
                .iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
        ),
        routes,
        max_body,
        auth: UpstreamAuth::Internal(token.map(str::to_owned)),
        required: true,
        placement: Placement::Balanced,
    };
    let external = |name, base: &Option<String>, routes, key: Option<String>| Upstream {
        name,
        instances: Instances::new(
            base.iter()
                .map(|b| b.trim_end_matches('/').to_owned())
                .collect(),
        ),
        routes,
        max_body: 16 * MIB,
        auth: UpstreamAuth::External(key),
        required: false,
        placement: Placement::Balanced,
    };
    vec![
        internal(
            "storaged",
            &g.storaged_url,
            &["/v1/storage/{*rest}"],
            config.storaged.max_object_bytes,
        ),
        internal(
            "catalogd",
            &g.catalogd_url,
            &["/v1/catalog/{*rest}", "/v1/iceberg/{*rest}"],
            4 * MIB,
        ),
        // CSV uploads are streamed; ingestd applies its own, tighter cap.
        internal("ingestd", &g.ingestd_url, &["/v1/ingest"], 4096 * MIB),
        internal(
            "queryd",
            &g.queryd_url,
            &["/v1/sql", "/v1/sql/{*rest}"],
            MIB,
        ),
        Upstream {
            placement: Placement::ByIndexName,
            ..internal(
                "vectord",
                &g.vectord_url,
                &["/v1/vectors", "/v1/vectors/{*rest}"],
                64 * MIB,
            )
        },
        external("chat", &config.chat.url, &["/v1/chat/{*rest}"], chat_key),
        external(
            "embeddings",
            &config.embed.url,
            &["/v1/embeddings"],
            embed_key,
        ),
    ]
}
