//! Distribution drift between two samples (two replay runs, two windows of evidence), by the
//! Population Stability Index: PSI = Σ (b − a) · ln(b / a) over the share of each sample in
//! each bucket. Numbers go into equal-width buckets over the combined range of both samples;
//! categories are their own buckets. An empty bucket's share is clamped to [`EPSILON`] so the
//! logarithm stays finite. `stable` below 0.10, `minor` below 0.25, `major` from there.

use std::collections::BTreeMap;

use serde::Serialize;

/// The share an empty bucket is given.
pub const EPSILON: f64 = 1e-4;

/// Below this, `stable`.
pub const MINOR: f64 = 0.10;

/// From this, `major`.
pub const MAJOR: f64 = 0.25;

/// One bucket of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// `[low, high)` for numbers (the last bucket includes its high end), the value for
    /// categories.
    pub label: String,
    /// Values of the first sample in it.
    pub count_a: u64,
    /// Values of the second.
    pub count_b: u64,
    /// Its share of the first sample (before clamping).
    pub share_a: f64,
    /// Of the second.
    pub share_b: f64,
    /// This bucket's term of the index.
    pub psi: f64,
}

/// A column's drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    /// The column.
    pub column: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// Values in each sample (nulls left out).
    pub n_a: u64,
    /// In the second.
    pub n_b: u64,
    /// The index; `None` when a sample has no values.
    pub psi: Option<f64>,
    /// `stable`, `minor`, `major`, or `empty` when a sample has no values.
    pub verdict: &'static str,
    /// Per bucket.
    pub buckets: Vec<Bucket>,
}

/// The verdict for an index value.
pub fn verdict(psi: f64) -> &'static str {
    if psi < MINOR {
        "stable"
    } else if psi < MAJOR {
        "minor"
    } else {
        "major"
    }
}

fn finish(column: &str, kind: &'static str, rows: Vec<(String, u64, u64)>) -> ColumnDrift {
    let n_a: u64 = rows.iter().map(|r| r.1).sum();
    let n_b: u64 = rows.iter().map(|r| r.2).sum();
    let share = |c: u64, n: u64| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let buckets: Vec<Bucket> = rows
        .into_iter()
        .map(|(label, count_a, count_b)| {
            let (share_a, share_b) = (share(count_a, n_a), share(count_b, n_b));
            let (a, b) = (share_a.max(EPSILON), share_b.max(EPSILON));
            Bucket {
                label,
                count_a,
                count_b,
                share_a,
                share_b,
                psi: (b - a) * (b / a).ln(),
            }
        })
        .collect();
    let psi = (n_a > 0 && n_b > 0).then(|| buckets.iter().map(|b| b.psi).sum::<f64>());
    ColumnDrift {
        column: column.to_owned(),
        kind,
        n_a,
        n_b,
        psi,
        verdict: psi.map_or("empty", verdict),
        buckets,
    }
}

/// Drift of a numeric column over `buckets` equal-width buckets (non-finite values are left
/// out, like nulls). All values equal — in both samples — is one bucket and `stable`.
pub fn numeric(column: &str, a: &[f64], b: &[f64], buckets: usize) -> ColumnDrift {
    let a: Vec<f64> = a.iter().copied().filter(|x| x.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|x| x.is_finite()).collect();
    let all = || a.iter().chain(&b).copied();
    let (Some(lo), Some(hi)) = (all().reduce(f64::min), all().reduce(f64::max)) else {
        return finish(column, "numeric", Vec::new());
    };
    let range = Range::new(lo, hi, buckets);
    let mut counts = vec![(0, 0); range.buckets];
    for &x in &a {
        counts[range.bucket(x)].0 += 1;
    }
    for &x in &b {
        counts[range.bucket(x)].1 += 1;
    }
    numeric_counts(column, &range, &counts)
}

/// Equal-width buckets over `[lo, hi]`: one bucket when the two are equal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// The smallest value of both samples.
    pub lo: f64,
    /// The largest.
    pub hi: f64,
    /// How many buckets.
    pub buckets: usize,
}

impl Range {
    /// `buckets` buckets over `[lo, hi]` (one if `hi` is not above `lo`).
    pub fn new(lo: f64, hi: f64, buckets: usize) -> Self {
        let buckets = if hi > lo { buckets.max(1) } else { 1 };
        Self { lo, hi, buckets }
    }

    fn width(&self) -> f64 {
        (self.hi - self.lo) / self.buckets as f64
    }

    /// The bucket `x` falls in (the top value in the last).
    pub fn bucket(&self, x: f64) -> usize {
        let w = self.width();
        if w > 0.0 {
            (((x - self.lo) / w).max(0.0) as usize).min(self.buckets - 1)
        } else {
            0
        }
    }
}

/// Drift of a numeric column from its counts per bucket of `range`: `(first, second)`.
pub fn numeric_counts(column: &str, range: &Range, counts: &[(u64, u64)]) -> ColumnDrift {
    let w = range.width();
    let rows = counts
        .iter()
        .enumerate()
        .map(|(i, &(ca, cb))| {
            let l = range.lo + w * i as f64;
            let h = if i + 1 == range.buckets {
                range.hi
            } else {
                range.lo + w * (i + 1) as f64
            };
            let close = if i + 1 == range.buckets { "]" } else { ")" };
            (format!("[{}, {}{close}", short(l), short(h)), ca, cb)
        })
        .collect();
    finish(column, "numeric", rows)
}

/// Drift of a categorical column (verdicts, validator failures, models): each value its own
/// bucket, in order of value.
pub fn categorical(column: &str, a: &[String], b: &[String]) -> ColumnDrift {
    let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for x in a {
        counts.entry(x).or_default().0 += 1;
    }
    for x in b {
        counts.entry(x).or_default().1 += 1;
    }
    let rows = counts
        .into_iter()
        .map(|(k, (ca, cb))| (k.to_owned(), ca, cb))
        .collect();
    finish(column, "categorical", rows)
}

/// A number for a bucket label: whole numbers bare, others to four significant places.
fn short(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conserved(d: &ColumnDrift) {
        let (a, b) = d
            .buckets
            .iter()
            .fold((0, 0), |(a, b), x| (a + x.count_a, b + x.count_b));
        assert_eq!((a, b), (d.n_a, d.n_b), "{d:?}");
    }

    #[test]
    fn identical_samples_are_stable_with_an_index_of_zero() {
        let xs: Vec<f64> = (0..500).map(|i| (i % 97) as f64 * 1.5).collect();
        let d = numeric("latency_ms", &xs, &xs, 10);
        assert_eq!(
            (d.psi, d.verdict, d.buckets.len()),
            (Some(0.0), "stable", 10)
        );
        conserved(&d);
    }

    #[test]
    fn a_hard_shift_is_major_and_a_small_one_is_not() {
        let a: Vec<f64> = (0..1000).map(|i| (i % 100) as f64).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 60.0).collect();
        let d = numeric("tokens", &a, &shifted, 10);
        assert_eq!(d.verdict, "major", "{d:?}");
        assert!(d.psi.unwrap() > 1.0);
        conserved(&d);
        // A few values moved one bucket: well under 0.10.
        let mut nudged = a.clone();
        for x in nudged.iter_mut().take(20) {
            *x += 10.0;
        }
        let d = numeric("tokens", &a, &nudged, 10);
        assert_eq!(d.verdict, "stable", "{d:?}");
    }

    #[test]
    fn the_psi_is_the_textbook_sum_with_clamped_empty_buckets() {
        // Two buckets: a = [3 low, 1 high], b = [1 low, 3 high]; values 0 and 10.
        let a = [0.0, 0.0, 0.0, 10.0];
        let b = [0.0, 10.0, 10.0, 10.0];
        let d = numeric("x", &a, &b, 2);
        let want =
            (0.25f64 - 0.75) * (0.25f64 / 0.75).ln() + (0.75f64 - 0.25) * (0.75f64 / 0.25).ln();
        assert!((d.psi.unwrap() - want).abs() < 1e-12, "{d:?}");
        assert_eq!(d.buckets[0].label, "[0, 5)");
        assert_eq!(d.buckets[1].label, "[5, 10]");
        // A bucket empty on one side stays finite through the clamp.
        let d = numeric("x", &[0.0, 0.0], &[10.0, 10.0], 2);
        let psi = d.psi.unwrap();
        assert!(psi.is_finite() && psi > 10.0, "{psi}");
        assert_eq!(d.verdict, "major");
    }

    #[test]
    fn empty_inputs_and_constant_values_are_handled() {
        let d = numeric("x", &[], &[1.0, 2.0], 10);
        assert_eq!((d.psi, d.verdict, d.n_a, d.n_b), (None, "empty", 0, 2));
        conserved(&d);
        let d = numeric("x", &[], &[], 10);
        assert_eq!((d.psi, d.verdict, d.buckets.len()), (None, "empty", 0));
        let d = numeric("x", &[7.0; 30], &[7.0; 12], 10);
        assert_eq!(
            (d.psi, d.verdict, d.buckets.len()),
            (Some(0.0), "stable", 1)
        );
        assert_eq!(d.buckets[0].label, "[7, 7]");
        conserved(&d);
        let d = numeric("x", &[f64::NAN, 1.0], &[f64::INFINITY, 1.0], 4);
        assert_eq!((d.n_a, d.n_b, d.verdict), (1, 1, "stable"));
        let d = categorical("verdict", &[], &[]);
        assert_eq!(d.verdict, "empty");
    }

    #[test]
    fn categories_are_buckets_of_their_own() {
        let s = |v: &[(&str, usize)]| -> Vec<String> {
            v.iter()
                .flat_map(|(k, n)| std::iter::repeat_n(k.to_string(), *n))
                .collect()
        };
        let a = s(&[("pass", 90), ("fail", 10)]);
        let same = s(&[("fail", 10), ("pass", 90)]);
        assert_eq!(categorical("verdict", &a, &same).verdict, "stable");
        let worse = s(&[("pass", 40), ("fail", 50), ("error", 10)]);
        let d = categorical("verdict", &a, &worse);
        assert_eq!(d.verdict, "major", "{d:?}");
        assert_eq!(
            d.buckets
                .iter()
                .map(|b| b.label.as_str())
                .collect::<Vec<_>>(),
            ["error", "fail", "pass"]
        );
        conserved(&d);
        let slightly = s(&[("pass", 85), ("fail", 15)]);
        assert_eq!(categorical("verdict", &a, &slightly).verdict, "stable");
        let more = s(&[("pass", 75), ("fail", 25)]);
        assert_eq!(categorical("verdict", &a, &more).verdict, "minor");
    }
}
