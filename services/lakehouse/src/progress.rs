//! Progress of a transfer: a live bar with bytes per second and ETA when stderr is a terminal,
//! nothing while it runs otherwise (the command prints one summary line at the end).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One transfer's progress.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    /// A bar for `total` bytes (unknown: a spinner with the count) labelled `label`.
    pub fn bytes(label: &str, total: Option<u64>) -> Self {
        Self::new(
            label,
            total,
            "{bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            "{bytes} {binary_bytes_per_sec}",
        )
    }

    /// A bar counting items (`rows`, `vectors`) instead of bytes.
    pub fn items(label: &str, total: Option<u64>, unit: &str) -> Self {
        let with_total = format!("{{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}}");
        let without = format!("{{pos}} {unit} {{per_sec}}");
        Self::new(label, total, &with_total, &without)
    }

    fn new(label: &str, total: Option<u64>, with_total: &str, without: &str) -> Self {
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let template = match total {
            Some(_) => format!("{{msg}} [{{bar:30}}] {with_total}"),
            None => format!("{{msg}} {{spinner}} {without}"),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        bar.set_draw_target(if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            started: Instant::now(),
        }
    }

    /// Counts `n` more.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Replaces the label once every byte is counted (e.g. "converting" after an upload).
    pub fn phase_when_done(&self, label: &str) {
        if self.bar.length().is_some_and(|n| self.bar.position() >= n) {
            self.bar.set_message(label.to_owned());
        }
    }

    /// Removes the bar; the elapsed time.
    pub fn finish(&self) -> Duration {
        self.bar.finish_and_clear();
        self.started.elapsed()
    }

    /// Wraps a byte stream so every chunk counts.
    pub fn counting<S, E>(&self, s: S) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    {
        let bar = self.bar.clone();
        s.inspect(move |c| {
            if let Ok(c) = c {
                bar.inc(c.len() as u64);
            }
        })
    }
}

/// `12.3 MiB in 1.2 s (10.1 MiB/s)`.
pub fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let per_sec = (bytes as f64 / secs) as u64;
    format!(
        "{} in {secs:.1} s ({}/s)",
        HumanBytes(bytes),
        HumanBytes(per_sec)
    )
}
