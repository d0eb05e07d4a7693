//! Progress for a person at a terminal; silence for scripts.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraws one status line on stderr at most every 250 ms, only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// Enabled when stderr is a terminal.
    pub fn new() -> Self {
        Self::with(std::io::stderr().is_terminal())
    }

    /// Enabled or not, explicitly.
    pub fn with(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// `count` per second since the start.
    pub fn rate(&self, count: u64) -> f64 {
        count as f64 / self.elapsed().as_secs_f64().max(1e-9)
    }

    /// Redraws the line with `line()` if the last draw is old enough.
    pub fn tick(&mut self, line: impl FnOnce() -> String) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last = Some(Instant::now());
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{}", line());
        let _ = e.flush();
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether summaries should be written for a person (stdout is a terminal) rather than as
/// one JSON document.
pub fn human_stdout() -> bool {
    std::io::stdout().is_terminal()
}
