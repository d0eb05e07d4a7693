//! Labelled counters and histograms for a service's own figures: declared once with their
//! name, help and label names, updated from request paths, rendered by a collector. Label
//! values must come from small closed sets (an outcome, an upstream, a phase), never from
//! input, so the series stay few.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::{Histogram, Metrics, escape};

fn labels(names: &[&str], values: &[&str]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A counter with labels.
#[derive(Debug)]
pub struct CounterFamily {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterFamily {
    /// A family, rendered by `metrics`.
    pub fn register(
        metrics: &Metrics,
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Arc<Self> {
        let f = Arc::new(Self {
            name,
            help,
            label_names,
            values: Mutex::default(),
        });
        let r = f.clone();
        metrics.add_collector(move |out| r.render(out));
        f
    }

    /// Adds `n` to the series of `values` (one per label name).
    pub fn add(&self, values: &[&str], n: u64) {
        let key = values.iter().map(|v| (*v).to_owned()).collect();
        let mut map = self.values.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_default() += n;
    }

    /// Adds one.
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} counter",
            self.name, self.help, self.name
        );
        let map = self.values.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in map.iter() {
            let k: Vec<&str> = k.iter().map(String::as_str).collect();
            if k.is_empty() {
                let _ = writeln!(out, "{} {v}", self.name);
            } else {
                let _ = writeln!(out, "{}{{{}}} {v}", self.name, labels(self.label_names, &k));
            }
        }
    }
}

/// A latency histogram with labels.
#[derive(Debug)]
pub struct HistogramFamily {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, Arc<Histogram>>>,
}

impl HistogramFamily {
    /// A family, rendered by `metrics`.
    pub fn register(
        metrics: &Metrics,
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Arc<Self> {
        let f = Arc::new(Self {
            name,
            help,
            label_names,
            series: Mutex::default(),
        });
        let r = f.clone();
        metrics.add_collector(move |out| r.render(out));
        f
    }

    /// Records one duration under `values`.
    pub fn observe(&self, values: &[&str], d: Duration) {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let h = {
            let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key).or_default().clone()
        };
        h.observe(d);
    }

    fn render(&self, out: &mut String) {
        Histogram::write_header(out, self.name, self.help);
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for (k, h) in map.iter() {
            let k: Vec<&str> = k.iter().map(String::as_str).collect();
            h.write_samples(out, self.name, &labels(self.label_names, &k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_one_series_per_label_set() {
        let m = Metrics::new("t");
        let c = CounterFamily::register(&m, "t_things_total", "Things.", &["outcome"]);
        let h = HistogramFamily::register(&m, "t_phase_seconds", "Phases.", &["phase"]);
        c.inc(&["ok"]);
        c.add(&["ok"], 2);
        c.inc(&["bad \"x\""]);
        h.observe(&["convert"], Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("# TYPE t_things_total counter"), "{text}");
        assert!(text.contains("t_things_total{outcome=\"ok\"} 3"), "{text}");
        assert!(
            text.contains("t_things_total{outcome=\"bad \\\"x\\\"\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("t_phase_seconds_bucket{phase=\"convert\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("t_phase_seconds_count{phase=\"convert\"} 1"),
            "{text}"
        );
    }
}
