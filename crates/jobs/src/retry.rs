//! Retries with exponential backoff and jitter, for calls to model servers.

use std::future::Future;
use std::time::Duration;

use lakehouse_client::ClientError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Tries in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the second try; doubled each time.
    pub base: Duration,
    /// Longest delay between tries.
    pub max: Duration,
}

impl Backoff {
    /// `attempts` tries, starting at 250 ms and capped at 8 s.
    pub fn new(attempts: u32) -> Self {
        Self {
            attempts: attempts.max(1),
            base: Duration::from_millis(250),
            max: Duration::from_secs(8),
        }
    }

    /// The pause after failed try number `failed` (1-based): doubling, ±25 % jitter so
    /// many clients do not retry in lockstep.
    pub fn delay(&self, failed: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1 << failed.saturating_sub(1).min(16))
            .min(self.max);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = f64::from(nanos % 1000) / 1000.0 * 0.5 + 0.75;
        exp.mul_f64(jitter)
    }
}

/// Whether a failed call is worth another try: transport failures, timeouts, 408, 429, 5xx,
/// and answers that could not be decoded (a model server mid-restart answers garbage).
pub fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Status { status, .. } => {
            status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408
        }
        ClientError::Unreachable { .. }
        | ClientError::Timeout { .. }
        | ClientError::Decode { .. } => true,
        ClientError::BadUrl(_) => false,
    }
}

/// The outcome of a retried call: its result and the tries it took.
#[derive(Debug)]
pub struct Retried<T> {
    /// The last try's result.
    pub result: Result<T, ClientError>,
    /// Tries made.
    pub attempts: u32,
}

/// Calls `f` until it succeeds, fails for good, or `policy.attempts` tries are spent.
pub async fn retry<T, F, Fut>(policy: Backoff, mut f: F) -> Retried<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match f().await {
            Ok(v) => {
                return Retried {
                    result: Ok(v),
                    attempts: tries,
                };
            }
            Err(e) if tries < policy.attempts && retryable(&e) => {
                tracing::debug!(attempt = tries, error = %e, "retrying");
                tokio::time::sleep(policy.delay(tries)).await;
            }
            Err(e) => {
                return Retried {
                    result: Err(e),
                    attempts: tries,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn status(code: u16) -> ClientError {
        ClientError::Status {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            code: String::new(),
            message: String::new(),
            request_id: String::new(),
        }
    }

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let b = Backoff::new(10);
        for (n, nominal) in [(1, 250u64), (2, 500), (3, 1000), (7, 8000), (30, 8000)] {
            let d = b.delay(n).as_millis() as u64;
            assert!(
                d >= nominal * 3 / 4 && d <= nominal * 5 / 4,
                "try {n}: {d} ms"
            );
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(retryable(&status(500)));
        assert!(retryable(&status(503)));
        assert!(retryable(&status(429)));
        assert!(!retryable(&status(400)));
        assert!(!retryable(&status(401)));
        assert!(!retryable(&status(404)));
        assert!(retryable(&ClientError::Timeout { url: "u".into() }));
    }

    fn quick(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            base: Duration::from_millis(1),
            max: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn stops_at_the_first_success_or_a_permanent_error() {
        let mut calls = 0;
        let r = retry(quick(5), || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(status(502)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.result.ok(), Some(3));
        assert_eq!(r.attempts, 3);

        let mut calls = 0;
        let r: Retried<()> = retry(quick(5), || {
            calls += 1;
            async { Err(status(400)) }
        })
        .await;
        assert!(r.result.is_err());
        assert_eq!((r.attempts, calls), (1, 1));

        let r: Retried<()> = retry(quick(3), || async { Err(status(503)) }).await;
        assert_eq!(r.attempts, 3);
    }
}
