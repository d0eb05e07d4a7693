//! Bounded mutation fuzzing for the decoders' tests, on stable Rust and without a fuzzing
//! engine: every input in the kept corpus (`fuzz/corpus/<target>/`, the inputs that once
//! found bugs) is replayed, then seeds are mutated (bit flips, truncation, byte runs, splices,
//! interesting bytes) for a time budget. The code under test must return, never panic, and
//! never take longer than a limit on one input. A failing input is written next to the
//! corpus as `crash-<hash>` so it can be kept.
//!
//! `LAKEHOUSE_FUZZ_SECONDS` sets the budget per target (default 1), `LAKEHOUSE_FUZZ_SEED`
//! the seed (default fixed, so a run is repeatable); both are printed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// SplitMix64: small, fast, good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = b"\x00\xff\x7f\x80\"'\\{}[],:\n\r\t/.%=;-0 9eE";

/// One to four mutations of `input`.
pub fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => out.truncate(rng.below(len)),
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let (a, b) = (rng.below(len), rng.below(len));
                let (a, b) = (a.min(b), a.max(b));
                let copy = out[a..b.min(a + 64)].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, copy);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                out.drain(a..b);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                out[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            6 => {
                let at = rng.below(len + 1);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                let long = rng.below(4) == 0;
                let n = 1 + rng.below(if long { 200 } else { 4 });
                out.splice(at..at, std::iter::repeat_n(b, n));
            }
            _ if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Inputs tried (corpus included).
    pub inputs: u64,
    /// Corpus inputs replayed.
    pub corpus: usize,
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// The kept inputs of `target`.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Replays `target`'s corpus, then feeds mutations of `seeds` to `check` until the budget is
/// spent. Panics, naming the saved input, if `check` panics or one input takes longer than
/// `per_input`.
pub fn run(
    target: &str,
    seeds: &[Vec<u8>],
    per_input: Duration,
    mut check: impl FnMut(&[u8]),
) -> Report {
    let budget = Duration::from_secs(env_number("LAKEHOUSE_FUZZ_SECONDS", 1));
    let seed = env_number("LAKEHOUSE_FUZZ_SEED", 0x1a4e_0005);
    let mut rng = Rng::new(seed ^ fnv(target.as_bytes()));
    let kept = corpus(target);
    let mut one = |input: &[u8]| {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
        let took = started.elapsed();
        if outcome.is_err() || took > per_input {
            let dir = corpus_dir(target);
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("crash-{:016x}", fnv(input)));
            let _ = std::fs::write(&path, input);
            let what = if outcome.is_err() {
                "panicked".to_owned()
            } else {
                format!("took {took:?} (limit {per_input:?})")
            };
            panic!(
                "fuzz target '{target}' {what} on an input saved as {} (seed {seed:#x})",
                path.display()
            );
        }
    };
    for input in kept.iter().chain(seeds) {
        one(input);
    }
    let started = Instant::now();
    let mut inputs = (kept.len() + seeds.len()) as u64;
    let pool: Vec<&Vec<u8>> = kept.iter().chain(seeds).collect();
    while started.elapsed() < budget && !pool.is_empty() {
        let base = pool[rng.below(pool.len())];
        let input = mutate(&mut rng, base);
        one(&input);
        inputs += 1;
    }
    eprintln!(
        "fuzz {target}: {inputs} inputs in {:?} (seed {seed:#x}, corpus {})",
        started.elapsed(),
        kept.len()
    );
    Report {
        inputs,
        corpus: kept.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_stay_repeatable() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let seed = b"{\"a\": [1, 2, 3]}".to_vec();
        let xs: Vec<Vec<u8>> = (0..100).map(|_| mutate(&mut a, &seed)).collect();
        let ys: Vec<Vec<u8>> = (0..100).map(|_| mutate(&mut b, &seed)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().filter(|x| **x != seed).count() > 90);
        assert!(mutate(&mut a, b"").len() <= 1000);
    }

    #[test]
    #[should_panic(expected = "panicked on an input saved as")]
    fn a_panic_is_reported_with_the_input() {
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _saved = Cleanup(corpus_dir("self-test"));
        run(
            "self-test",
            &[b"ok".to_vec()],
            Duration::from_secs(1),
            |i| {
                assert!(i != b"ok", "boom");
            },
        );
    }
}
