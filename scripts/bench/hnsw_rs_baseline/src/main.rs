//! hnsw_rs on the benchmark's files: build time on 1 and 2 threads, then recall@10 and
//! single-thread queries/s at each ef. Prints one JSON object per figure, as ann_bench does.
//!
//! Usage: hnsw-rs-baseline DIR DIM EF,EF,… (DIR holds base.f32, queries.f32, truth.u32).

use std::time::Instant;

use anndists::dist::DistL2;
use hnsw_rs::prelude::*;

fn floats(path: &str) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, dim) = (&args[1], args[2].parse::<usize>().unwrap());
    let efs: Vec<usize> = args[3].split(',').map(|e| e.parse().unwrap()).collect();
    // Unit vectors: L2 ranks exactly as cosine does (hnsw_rs's DistDot panics on rounding).
    let base: Vec<Vec<f32>> = floats(&format!("{dir}/base.f32")).chunks(dim).map(<[f32]>::to_vec).collect();
    let queries: Vec<Vec<f32>> = floats(&format!("{dir}/queries.f32")).chunks(dim).map(<[f32]>::to_vec).collect();
    let truth: Vec<u32> = std::fs::read(format!("{dir}/truth.u32"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = base.len();
    let layers = 16.min((n as f32).ln().trunc() as usize);
    let data: Vec<(&Vec<f32>, usize)> = base.iter().zip(0..n).collect();
    let mut last = None;
    for threads in [1usize, 2] {
        let h = Hnsw::<f32, DistL2>::new(16, n, layers, 200, DistL2 {});
        let t = Instant::now();
        if threads == 1 {
            for d in &data {
                h.insert((d.0.as_slice(), d.1));
            }
        } else {
            h.parallel_insert(&data);
        }
        println!("{{\"engine\":\"hnsw_rs\",\"figure\":\"build\",\"threads\":{threads},\"seconds\":{:.3}}}", t.elapsed().as_secs_f64());
        last = Some(h);
    }
    let mut h = last.unwrap();
    h.set_searching_mode(true);
    // Best of three passes per ef, as for the other engines.
    for ef in efs {
        let mut best: Option<(f64, Vec<f64>, usize)> = None;
        for _ in 0..3 {
            let mut times = Vec::with_capacity(queries.len());
            let mut hit = 0usize;
            let t = Instant::now();
            for (qi, q) in queries.iter().enumerate() {
                let s = Instant::now();
                let res = h.search(q, 10, ef);
                times.push(s.elapsed().as_secs_f64());
                let want = &truth[qi * 10..qi * 10 + 10];
                hit += res.iter().filter(|r| want.contains(&(r.d_id as u32))).count();
            }
            let total = t.elapsed().as_secs_f64();
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, times, hit));
            }
        }
        let (total, mut times, hit) = best.unwrap();
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] * 1e3;
        println!(
            "{{\"engine\":\"hnsw_rs\",\"figure\":\"search\",\"ef\":{ef},\"recall\":{:.4},\"qps\":{:.1},\"p50_ms\":{:.4},\"p99_ms\":{:.4}}}",
            hit as f64 / (10 * queries.len()) as f64,
            queries.len() as f64 / total,
            pct(0.5),
            pct(0.99)
        );
    }
}
