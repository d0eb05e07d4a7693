//! Client for an OpenAI-compatible `/v1/chat/completions`, called through the gateway.
//! Timeouts, connection failures, 408/429/5xx and malformed replies are retried with
//! backoff; what is left after the last try is returned as a [`ChatFailure`], never a panic.

use std::time::{Duration, Instant};

use lakehouse_client::{ClientError, ServiceClient};
use lakehouse_common::config::ChatConfig;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::retry::{Backoff, retry};

/// One chat message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// Token counts the server reported.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
}

/// A successful completion.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The first choice's text.
    pub content: String,
    /// The model the server says answered.
    pub model: Option<String>,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
    /// Token counts, when reported.
    pub usage: Option<Usage>,
    /// Tries it took.
    pub attempts: u32,
    /// Wall time over every try.
    pub elapsed: Duration,
}

/// A completion that could not be had.
#[derive(Debug, Clone)]
pub struct ChatFailure {
    /// The last error, as a sentence.
    pub error: String,
    /// `timeout`, `unreachable`, `http_<status>` or `malformed_reply`.
    pub kind: String,
    /// Tries made.
    pub attempts: u32,
    /// Wall time over every try.
    pub elapsed: Duration,
}

#[derive(Debug, Deserialize)]
struct Answer {
    choices: Vec<Choice>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: AnswerMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
}

/// Client for `/v1/chat/completions`.
#[derive(Debug, Clone)]
pub struct ChatClient {
    v1: ServiceClient,
    timeout: Duration,
    backoff: Backoff,
}

impl ChatClient {
    /// A client calling `<v1>/chat/completions` with `cfg`'s limits.
    pub fn new(v1: ServiceClient, cfg: &ChatConfig) -> Self {
        Self {
            v1,
            timeout: Duration::from_millis(cfg.timeout_ms),
            backoff: Backoff::new(cfg.attempts),
        }
    }

    /// Replaces the retry policy (tests use short pauses).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// One completion at temperature 0 (replays should be repeatable).
    pub async fn complete(
        &self,
        model: Option<&str>,
        messages: &[Message],
        max_tokens: u32,
        rid: &str,
    ) -> Result<Completion, ChatFailure> {
        let mut body = serde_json::json!({
            "messages": messages,
            "temperature": 0,
            "max_tokens": max_tokens,
            "stream": false,
        });
        if let Some(m) = model {
            body["model"] = m.into();
        }
        let start = Instant::now();
        let r = retry(self.backoff, || async {
            let req = self
                .v1
                .request(Method::POST, "/chat/completions", rid)
                .timeout(self.timeout)
                .json(&body);
            let a: Answer = self.v1.send_json(req).await?;
            let Some(first) = a.choices.into_iter().next() else {
                return Err(ClientError::Decode {
                    url: self.v1.url("/chat/completions"),
                    message: "the reply has no choices".into(),
                });
            };
            Ok(Completion {
                content: first.message.content.unwrap_or_default(),
                model: a.model,
                finish_reason: first.finish_reason,
                usage: a.usage,
                attempts: 0,
                elapsed: Duration::ZERO,
            })
        })
        .await;
        let elapsed = start.elapsed();
        match r.result {
            Ok(mut c) => {
                c.attempts = r.attempts;
                c.elapsed = elapsed;
                Ok(c)
            }
            Err(e) => Err(ChatFailure {
                kind: match &e {
                    ClientError::Timeout { .. } => "timeout".into(),
                    ClientError::Unreachable { .. } | ClientError::BadUrl(_) => {
                        "unreachable".into()
                    }
                    ClientError::Status { status, .. } => format!("http_{}", status.as_u16()),
                    ClientError::Decode { .. } => "malformed_reply".into(),
                },
                error: e.to_string(),
                attempts: r.attempts,
                elapsed,
            }),
        }
    }
}
