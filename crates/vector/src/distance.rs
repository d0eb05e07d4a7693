//! Distance kernels. Cosine vectors are normalised at insert, so cosine distance is `1 − a·b`;
//! euclidean ranks by the squared distance and reports its root. The loops keep 16 independent
//! accumulators so the compiler vectorises them; on CPUs with AVX2 and FMA the same loop is
//! compiled for those instructions and chosen at run time.

use serde::{Deserialize, Serialize};

/// How distance is measured; smaller is closer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `1 − cos(a, b)`, in `[0, 2]`.
    #[default]
    Cosine,
    /// The L2 distance.
    Euclidean,
}

/// Floats summed side by side: enough independent chains (4 registers) that the adds are
/// bound by throughput, not by their latency.
const LANES: usize = 32;
/// The same with AVX-512 registers.
const LANES_512: usize = 64;

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<LANES>(a, b)
}

#[inline(always)]
fn l2_portable(a: &[f32], b: &[f32]) -> f32 {
    l2_lanes::<LANES>(a, b)
}

#[inline(always)]
fn dot_lanes<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline(always)]
fn l2_lanes<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
    l2_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<LANES_512>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn l2_avx512(a: &[f32], b: &[f32]) -> f32 {
    l2_lanes::<LANES_512>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn cosine_avx512(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: chosen by `kernel` only after the CPU reported AVX-512F.
    1.0 - unsafe { dot_avx512(a, b) }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn l2sq_avx512(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: chosen by `kernel` only after the CPU reported AVX-512F.
    unsafe { l2_avx512(a, b) }
}

/// A distance function over two vectors of equal length.
pub type Kernel = fn(&[f32], &[f32]) -> f32;

fn cosine_portable(a: &[f32], b: &[f32]) -> f32 {
    1.0 - dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn cosine_avx2(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: chosen by `kernel` only after the CPU reported AVX2 and FMA.
    1.0 - unsafe { dot_avx2(a, b) }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: chosen by `kernel` only after the CPU reported AVX2 and FMA.
    unsafe { l2_avx2(a, b) }
}

/// Asks the CPU to start loading the start of `v` into cache (the hardware prefetcher follows
/// the rest), so that scoring a batch of neighbours overlaps their memory latency, as hnswlib
/// does. A hint only: it reads nothing the program sees and cannot fault.
#[inline(always)]
pub(crate) fn prefetch(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` is a hint on a valid address; it never dereferences or faults,
    // and SSE is part of the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(v.as_ptr().cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// The fastest kernel this CPU runs for `metric` (euclidean: the squared distance).
pub fn kernel(metric: Metric) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return match metric {
            Metric::Cosine => cosine_avx512,
            Metric::Euclidean => l2sq_avx512,
        };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return match metric {
            Metric::Cosine => cosine_avx2,
            Metric::Euclidean => l2sq_avx2,
        };
    }
    match metric {
        Metric::Cosine => cosine_portable,
        Metric::Euclidean => l2_portable,
    }
}

/// The distance reported to callers from the kernel's value.
pub fn reported(metric: Metric, raw: f32) -> f32 {
    match metric {
        // Rounding can take 1 − a·b a hair below zero for identical vectors.
        Metric::Cosine => raw.max(0.0),
        Metric::Euclidean => raw.max(0.0).sqrt(),
    }
}

/// The length of `v`, when it can be scaled to unit length (finite and not zero).
pub fn usable_norm(v: &[f32]) -> Option<f32> {
    let norm = dot_portable(v, v).sqrt();
    (norm.is_finite() && norm > 0.0).then_some(norm)
}

/// Scales `v` to unit length in place; false for a zero (or non-finite) norm.
pub fn normalize(v: &mut [f32]) -> bool {
    let Some(norm) = usable_norm(v) else {
        return false;
    };
    for x in v.iter_mut() {
        *x /= norm;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn kernels_agree_with_the_naive_sums_at_every_length() {
        for n in [
            1usize, 3, 15, 16, 17, 31, 33, 63, 64, 65, 127, 384, 385, 768,
        ] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
            let want_dot = naive_dot(&a, &b);
            let want_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            let tol = 1e-4 * (1.0 + want_dot.abs().max(want_l2));
            assert!(
                (1.0 - kernel(Metric::Cosine)(&a, &b) - want_dot).abs() < tol,
                "{n}"
            );
            assert!(
                (kernel(Metric::Euclidean)(&a, &b) - want_l2).abs() < tol,
                "{n}"
            );
            assert!(
                (1.0 - cosine_portable(&a, &b) - want_dot).abs() < tol,
                "{n}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                assert!((1.0 - cosine_avx2(&a, &b) - want_dot).abs() < tol, "{n}");
                assert!((l2sq_avx2(&a, &b) - want_l2).abs() < tol, "{n}");
            }
        }
    }

    #[test]
    fn normalize_refuses_zero_and_reports_no_negative_distance() {
        assert!(!normalize(&mut [0.0, 0.0]));
        assert!(!normalize(&mut [f32::NAN, 1.0]));
        let mut v = [3.0f32, 4.0, 0.0, 0.1];
        assert!(normalize(&mut v));
        assert!(reported(Metric::Cosine, kernel(Metric::Cosine)(&v, &v)) >= 0.0);
        assert_eq!(reported(Metric::Euclidean, 9.0), 3.0);
    }
}
