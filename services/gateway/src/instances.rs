//! Several instances of one stateless service behind one route: requests go round-robin over
//! the healthy ones. An instance is taken out when connecting to it fails, its `/health`
//! stops answering or says it stands by (catalogd's standby), and put back when `/health`
//! answers again as a serving instance (checked every `gateway.health_interval_ms`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The instances of one upstream and what is known of their health.
#[derive(Debug)]
pub struct Instances {
    /// Base URLs without trailing slash.
    pub bases: Vec<String>,
    up: Vec<AtomicBool>,
    next: AtomicUsize,
}

impl Instances {
    /// All instances, presumed up.
    pub fn new(bases: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            up: bases.iter().map(|_| AtomicBool::new(true)).collect(),
            bases,
            next: AtomicUsize::new(0),
        })
    }

    /// The order to try instances in for one request: the healthy ones from the next
    /// round-robin position, then the ones taken out (a last resort, not a skip).
    pub fn order(&self) -> Vec<usize> {
        let n = self.bases.len();
        if n <= 1 {
            return (0..n).collect();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let ring = (0..n).map(|i| (start + i) % n);
        let (healthy, out): (Vec<usize>, Vec<usize>) = ring.partition(|&i| self.is_up(i));
        healthy.into_iter().chain(out).collect()
    }

    /// Whether instance `i` is in.
    pub fn is_up(&self, i: usize) -> bool {
        self.up.get(i).is_some_and(|u| u.load(Ordering::Relaxed))
    }

    /// Takes instance `i` out or puts it back; says whether that changed anything.
    pub fn mark(&self, i: usize, up: bool) -> bool {
        self.up
            .get(i)
            .is_some_and(|u| u.swap(up, Ordering::Relaxed) != up)
    }

    /// How many instances are in.
    pub fn healthy(&self) -> usize {
        (0..self.bases.len()).filter(|&i| self.is_up(i)).count()
    }
}

/// Checks every instance of `name` every `interval`, for as long as the runtime runs.
pub fn watch(
    name: &'static str,
    instances: Arc<Instances>,
    http: reqwest::Client,
    interval: Duration,
) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for (i, base) in instances.bases.iter().enumerate() {
                // A standby answers /health too, but serves nothing else.
                let ok = http
                    .get(format!("{base}/health"))
                    .timeout(interval.min(Duration::from_secs(2)))
                    .send()
                    .await
                    .is_ok_and(|r| {
                        r.status().is_success()
                            && !r.headers().contains_key(lakehouse_client::ROLE_HEADER)
                    });
                if instances.mark(i, ok) {
                    if ok {
                        tracing::info!(upstream = name, instance = %base, "instance back in");
                    } else {
                        tracing::warn!(upstream = name, instance = %base, "instance taken out: /health does not answer");
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_over_the_healthy_then_the_rest() {
        let ins = Instances::new(vec!["a".into(), "b".into(), "c".into()]);
        let firsts: Vec<usize> = (0..6).map(|_| ins.order()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        assert!(ins.mark(1, false));
        assert!(!ins.mark(1, false), "no change the second time");
        for _ in 0..6 {
            let o = ins.order();
            assert_ne!(o[0], 1, "an instance taken out is not first");
            assert_eq!(o[2], 1, "but still a last resort");
        }
        assert_eq!(ins.healthy(), 2);
        ins.mark(1, true);
        assert!((0..3).any(|_| ins.order()[0] == 1), "and comes back");
        assert_eq!(Instances::new(vec!["x".into()]).order(), [0]);
        assert!(Instances::new(Vec::new()).order().is_empty());
    }
}
