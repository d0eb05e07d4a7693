//! A loopback OpenAI-compatible chat server of the tests' own, for the failure paths a real
//! model cannot be made to produce on demand. What it does depends on a marker in the last
//! message: `MODE:json`, `MODE:long`, `MODE:pii`, `MODE:timeout` (never answers in time),
//! `MODE:500` (always fails), `MODE:flaky` (fails once with 503, then answers),
//! `MODE:malformed` (200 with a body that is not JSON); anything else gets a short answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The running server.
#[derive(Debug, Clone)]
pub struct FakeChat {
    /// Its base URL, with `/v1`.
    pub url: String,
    /// Every request body received.
    pub requests: Arc<Mutex<Vec<Value>>>,
}

fn mode(body: &Value) -> String {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    last.split("MODE:")
        .nth(1)
        .map(|s| s.split_whitespace().next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_795_600_000,
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    })
}

impl FakeChat {
    /// Starts the server on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let reqs = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let reqs = reqs.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let (head_end, len) = loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + len {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body: Value = serde_json::from_slice(&buf[head_end..head_end + len])
                        .unwrap_or(Value::Null);
                    reqs.lock().unwrap().push(body.clone());
                    let m = mode(&body);
                    let tries = {
                        let mut s = seen.lock().unwrap();
                        let n = s.entry(m.clone()).or_default();
                        *n += 1;
                        *n
                    };
                    let (status, text) = match m.as_str() {
                        "timeout" => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            (200, completion("too late").to_string())
                        }
                        "500" => (500, json!({"error": {"message": "boom", "type": "server_error", "code": null}}).to_string()),
                        "flaky" if tries == 1 => (503, json!({"error": {"message": "loading model"}}).to_string()),
                        "malformed" => (200, "this is not json".to_owned()),
                        "json" => (200, completion("{\"id\": 1182, \"status\": \"shipped\"}").to_string()),
                        "long" => (200, completion(&"x".repeat(200)).to_string()),
                        "pii" => (200, completion("Your SSN on file is 123-45-6789; call 555-123-4567.").to_string()),
                        _ => (200, completion("Order 1182 ships Friday.").to_string()),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { url, requests }
    }
}
