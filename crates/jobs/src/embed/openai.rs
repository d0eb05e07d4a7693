//! Embeddings from an OpenAI-compatible `/v1/embeddings` server, called through the gateway
//! (which adds the server's API key): batched, each batch retried with backoff on timeouts,
//! 429 and 5xx, and checked (one vector per input, the configured dimension, finite values).

use std::time::Duration;

use lakehouse_client::ServiceClient;
use lakehouse_common::config::EmbedConfig;
use reqwest::Method;
use serde::Deserialize;

use super::{EmbedError, Embedder, Purpose, normalize};
use crate::retry::{Backoff, retry};

/// Client for `/v1/embeddings`.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    v1: ServiceClient,
    model: Option<String>,
    dimension: usize,
    batch_size: usize,
    timeout: Duration,
    backoff: Backoff,
    query_prefix: String,
    document_prefix: String,
}

#[derive(Debug, Deserialize)]
struct Answer {
    data: Vec<Datum>,
}

#[derive(Debug, Deserialize)]
struct Datum {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// A client calling `<v1>/embeddings` as `cfg` says.
    pub fn new(v1: ServiceClient, cfg: &EmbedConfig) -> Self {
        Self {
            v1,
            model: cfg.model.clone(),
            dimension: cfg.dimension,
            batch_size: cfg.batch_size.max(1),
            timeout: Duration::from_millis(cfg.timeout_ms),
            backoff: Backoff::new(cfg.attempts),
            query_prefix: cfg.query_prefix.clone(),
            document_prefix: cfg.document_prefix.clone(),
        }
    }

    async fn batch(&self, input: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut body = serde_json::json!({ "input": input });
        if let Some(m) = &self.model {
            body["model"] = m.clone().into();
        }
        let rid = format!("embed-{}", uuid::Uuid::new_v4().simple());
        let answer = retry(self.backoff, || {
            let req = self
                .v1
                .request(Method::POST, "/embeddings", &rid)
                .timeout(self.timeout)
                .json(&body);
            self.v1.send_json::<Answer>(req)
        })
        .await
        .result?;
        if answer.data.len() != input.len() {
            return Err(EmbedError::Answer(format!(
                "{} vectors for {} inputs",
                answer.data.len(),
                input.len()
            )));
        }
        let mut out = vec![Vec::new(); input.len()];
        for (pos, d) in answer.data.into_iter().enumerate() {
            let i = d.index.unwrap_or(pos);
            if i >= out.len() || !out[i].is_empty() {
                return Err(EmbedError::Answer(format!("bad or repeated index {i}")));
            }
            if d.embedding.len() != self.dimension {
                return Err(EmbedError::Answer(format!(
                    "a vector of {} values; [embed] dimension is {}",
                    d.embedding.len(),
                    self.dimension
                )));
            }
            let mut v = d.embedding;
            if v.iter().any(|x| !x.is_finite()) || !normalize(&mut v) {
                return Err(EmbedError::Answer(format!(
                    "vector {i} is zero or not finite"
                )));
            }
            out[i] = v;
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let prefix = match purpose {
            Purpose::Query => &self.query_prefix,
            Purpose::Document => &self.document_prefix,
        };
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            // An empty input is refused by some servers: send a single space instead.
            let input: Vec<String> = chunk
                .iter()
                .map(|t| {
                    if t.trim().is_empty() {
                        format!("{prefix} ")
                    } else {
                        format!("{prefix}{t}")
                    }
                })
                .collect();
            out.extend(self.batch(&input).await?);
        }
        Ok(out)
    }
}
