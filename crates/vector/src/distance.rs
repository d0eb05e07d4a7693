//! Distance kernels. Cosine vectors are normalised at insert, so cosine distance is `1 − a·b`;
//! euclidean ranks by the squared distance and reports its root. On x86-64 the kernel is
//! chosen at run time: AVX-512 or AVX2 with fused multiply-adds, else a portable loop that the
//! compiler vectorises.

use serde::{Deserialize, Serialize};

/// How distance is measured; smaller is closer.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `1 − cos(a, b)`, in `[0, 2]`.
    #[default]
    Cosine,
    /// The L2 distance.
    Euclidean,
}

/// Floats summed side by side in the portable loop: enough independent chains that the adds
/// are bound by throughput, not by their latency.
const LANES: usize = 32;

/// Sums the lanes pairwise: a left-to-right sum of 32 lanes is 32 dependent adds, longer than
/// the whole dot product of a 384-d vector.
#[inline(always)]
fn hsum<const L: usize>(mut acc: [f32; L]) -> f32 {
    let mut w = L / 2;
    while w > 0 {
        for i in 0..w {
            acc[i] += acc[i + w];
        }
        w /= 2;
    }
    acc[0]
}

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = hsum(acc);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline(always)]
fn l2_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut s = hsum(acc);
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// x86-64 kernels written with intrinsics: Rust never fuses a multiply and an add on its own,
/// and a fused multiply-add per 16 floats with four independent chains is what keeps up with
/// the loads.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    /// `Σ aᵢbᵢ` (`DOT`) or `Σ (aᵢ−bᵢ)²`, 64 floats a step, then 16, then a masked tail.
    #[target_feature(enable = "avx512f")]
    pub(super) fn sum512<const DOT: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let step = |acc: __m512, x: __m512, y: __m512| {
            if DOT {
                _mm512_fmadd_ps(x, y, acc)
            } else {
                let d = _mm512_sub_ps(x, y);
                _mm512_fmadd_ps(d, d, acc)
            }
        };
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (every load below): `i + 16·j + 16 ≤ n` or the mask covers only `i..n`, and
        // both slices hold at least `n` floats.
        unsafe {
            while i + 64 <= n {
                for (j, acc) in acc.iter_mut().enumerate() {
                    let o = i + 16 * j;
                    *acc = step(*acc, _mm512_loadu_ps(pa.add(o)), _mm512_loadu_ps(pb.add(o)));
                }
                i += 64;
            }
            while i + 16 <= n {
                acc[0] = step(
                    acc[0],
                    _mm512_loadu_ps(pa.add(i)),
                    _mm512_loadu_ps(pb.add(i)),
                );
                i += 16;
            }
            if i < n {
                let m: __mmask16 = (1u16 << (n - i)) - 1;
                let (x, y) = (
                    _mm512_maskz_loadu_ps(m, pa.add(i)),
                    _mm512_maskz_loadu_ps(m, pb.add(i)),
                );
                acc[1] = step(acc[1], x, y);
            }
        }
        let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(s)
    }

    /// The same with AVX2 registers: 32 floats a step, then 8, then a scalar tail.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn sum256<const DOT: bool>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let step = |acc: __m256, x: __m256, y: __m256| {
            if DOT {
                _mm256_fmadd_ps(x, y, acc)
            } else {
                let d = _mm256_sub_ps(x, y);
                _mm256_fmadd_ps(d, d, acc)
            }
        };
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (every load below): `i + 8·j + 8 ≤ n`, and both slices hold `n` floats.
        unsafe {
            while i + 32 <= n {
                for (j, acc) in acc.iter_mut().enumerate() {
                    let o = i + 8 * j;
                    *acc = step(*acc, _mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)));
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = step(
                    acc[0],
                    _mm256_loadu_ps(pa.add(i)),
                    _mm256_loadu_ps(pb.add(i)),
                );
                i += 8;
            }
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_shuffle_ps::<0b01>(h, h));
        let mut total = _mm_cvtss_f32(h);
        for (x, y) in a[i..n].iter().zip(&b[i..n]) {
            total += if DOT { x * y } else { (x - y) * (x - y) };
        }
        total
    }

    pub(super) fn cosine_avx512(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: chosen by `kernel` only after the CPU reported AVX-512F.
        1.0 - unsafe { sum512::<true>(a, b) }
    }

    pub(super) fn l2sq_avx512(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { sum512::<false>(a, b) }
    }

    pub(super) fn cosine_avx2(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: chosen by `kernel` only after the CPU reported AVX2 and FMA.
        1.0 - unsafe { sum256::<true>(a, b) }
    }

    pub(super) fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as above.
        unsafe { sum256::<false>(a, b) }
    }
}

#[cfg(target_arch = "x86_64")]
use x86::{cosine_avx2, cosine_avx512, l2sq_avx2, l2sq_avx512};

/// A distance function over two vectors of equal length.
pub type Kernel = fn(&[f32], &[f32]) -> f32;

fn cosine_portable(a: &[f32], b: &[f32]) -> f32 {
    1.0 - dot_portable(a, b)
}

/// Asks the CPU to start loading the start of `v` into cache (the hardware prefetcher follows
/// the rest), so that scoring a batch of neighbours overlaps their memory latency, as hnswlib
/// does.
#[inline(always)]
pub(crate) fn prefetch(v: &[f32]) {
    prefetch_ptr(v.as_ptr().cast());
}

/// A hint only: it reads nothing the program sees and cannot fault, whatever the address.
#[inline(always)]
pub(crate) fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` is a hint; it never dereferences or faults, and SSE is part of
    // the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
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
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                assert!((1.0 - cosine_avx512(&a, &b) - want_dot).abs() < tol, "{n}");
                assert!((l2sq_avx512(&a, &b) - want_l2).abs() < tol, "{n}");
            }
            assert!((l2_portable(&a, &b) - want_l2).abs() < tol, "{n}");
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
