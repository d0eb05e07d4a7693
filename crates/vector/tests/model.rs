//! Random sequences of add / re-add / delete / search / get / merge / save+load against a
//! brute-force model, at sizes from 0 up: no panic, never a deleted, replaced or excluded id,
//! lengths always agree, every distance is the true one, and while searches are exact (small
//! indexes) the answers are the exact answer.

use std::collections::{BTreeMap, HashSet};

use lakehouse_vector::{Index, Item, Metadata, Metric, Params, Query};
use serde_json::json;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p as f32
    }
}

#[derive(Clone)]
struct Model {
    params: Params,
    items: BTreeMap<String, (Vec<f32>, Metadata)>,
}

fn stored(params: &Params, v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    if params.distance == Metric::Cosine {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

fn distance(params: &Params, a: &[f32], b: &[f32]) -> f32 {
    match params.distance {
        Metric::Cosine => (1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()).max(0.0),
        Metric::Euclidean => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
    }
}

impl Model {
    fn upsert(&mut self, items: &[Item]) {
        let mut last = BTreeMap::new();
        for it in items {
            last.insert(it.id.clone(), it.clone());
        }
        for (id, it) in last {
            let old = self.items.remove(&id).map(|x| x.1).unwrap_or_default();
            let meta = it.metadata.clone().unwrap_or(old);
            self.items
                .insert(id, (stored(&self.params, &it.vector), meta));
        }
    }
}

fn vector(r: &mut Rng, dim: usize) -> Vec<f32> {
    // Coarse values make ties and identical vectors common.
    loop {
        let v: Vec<f32> = (0..dim).map(|_| (r.below(7) as f32) - 3.0).collect();
        if v.iter().any(|x| *x != 0.0) {
            return v;
        }
    }
}

fn metadata(r: &mut Rng) -> Option<Metadata> {
    match r.below(4) {
        0 => None,
        1 => Some(Metadata::new()),
        _ => {
            let v = json!({"g": r.below(3), "tag": format!("t{}", r.below(2))});
            v.as_object().cloned()
        }
    }
}

fn check_search(index: &Index, model: &Model, r: &mut Rng, exact: bool, ctx: &str) {
    let p = &model.params;
    let q = vector(r, p.dimension);
    let qs = stored(p, &q);
    let k = r.below(14);
    let exclude: HashSet<String> = if r.chance(0.3) {
        model
            .items
            .keys()
            .filter(|_| r.chance(0.3))
            .cloned()
            .collect()
    } else {
        HashSet::new()
    };
    let filter = if r.chance(0.3) {
        json!({"g": r.below(3)}).as_object().cloned()
    } else {
        None
    };
    let hits = index
        .search(&Query {
            vector: &q,
            k,
            ef: if r.chance(0.5) {
                Some(1 + r.below(20))
            } else {
                None
            },
            exclude: Some(&exclude),
            filter: filter.as_ref(),
            text: None,
            fusion: None,
        })
        .unwrap_or_else(|e| panic!("{ctx}: search failed: {e}"));
    let matching: Vec<(&String, f32)> = model
        .items
        .iter()
        .filter(|(id, (_, m))| {
            !exclude.contains(*id)
                && filter
                    .as_ref()
                    .is_none_or(|f| f.iter().all(|(k, v)| m.get(k) == Some(v)))
        })
        .map(|(id, (v, _))| (id, distance(p, &qs, v)))
        .collect();
    assert_eq!(hits.len(), k.min(matching.len()), "{ctx}: result count");
    let mut seen = HashSet::new();
    for w in hits.windows(2) {
        assert!(
            w[0].distance <= w[1].distance + 1e-5,
            "{ctx}: not ascending"
        );
    }
    for h in &hits {
        assert!(seen.insert(h.id.clone()), "{ctx}: {} twice", h.id);
        let Some((v, m)) = model.items.get(&h.id) else {
            panic!("{ctx}: returned {} which is not live", h.id)
        };
        assert!(
            !exclude.contains(&h.id),
            "{ctx}: returned excluded {}",
            h.id
        );
        assert_eq!(&h.metadata, m, "{ctx}: metadata of {}", h.id);
        let d = distance(p, &qs, v);
        assert!(
            (d - h.distance).abs() < 1e-4,
            "{ctx}: distance of {}: {} vs {d}",
            h.id,
            h.distance
        );
    }
    if exact && let Some(worst) = hits.last() {
        for (id, d) in &matching {
            if !seen.contains(*id) {
                assert!(
                    *d >= worst.distance - 1e-4,
                    "{ctx}: missed {id} at {d} < {}",
                    worst.distance
                );
            }
        }
    }
}

fn check_all(index: &Index, model: &Model, ctx: &str) {
    assert_eq!(index.len(), model.items.len(), "{ctx}: length");
    for (id, (v, m)) in &model.items {
        let (gv, gm) = index.get(id).unwrap_or_else(|| panic!("{ctx}: {id} lost"));
        assert!(
            gv.iter().zip(v).all(|(a, b)| (a - b).abs() < 1e-5),
            "{ctx}: vector of {id}"
        );
        assert_eq!(&gm, m, "{ctx}: metadata of {id}");
    }
}

fn run(seed: u64, metric: Metric, graph_only: bool, steps: usize, pool: usize) {
    let mut r = Rng(seed);
    let dim = 1 + r.below(6);
    let mut params = Params::new(dim);
    params.distance = metric;
    params.m = 2 + r.below(6);
    params.ef_construction = 1 + r.below(40);
    let mut index = Index::new(params).expect("params");
    if graph_only {
        index.set_exact_below(0);
    }
    let mut model = Model {
        params,
        items: BTreeMap::new(),
    };
    let other = Index::new(params).expect("params");
    for step in 0..steps {
        let ctx = format!("seed {seed} {metric:?} graph_only={graph_only} step {step}");
        match r.below(20) {
            0..=7 => {
                let n = 1 + r.below(5);
                let mut items: Vec<Item> = (0..n)
                    .map(|_| Item {
                        id: format!("i{}", r.below(pool)),
                        vector: vector(&mut r, dim),
                        metadata: metadata(&mut r),
                    })
                    .collect();
                let bad = r.chance(0.1);
                if bad {
                    let j = r.below(n);
                    match r.below(4) {
                        0 => items[j].id.clear(),
                        1 => items[j].vector.push(1.0),
                        2 => items[j].vector[0] = f32::NAN,
                        _ => items[j].vector.iter_mut().for_each(|x| *x = 0.0),
                    }
                    let zero_ok =
                        metric == Metric::Euclidean && items[j].vector.iter().all(|x| *x == 0.0);
                    if !zero_ok {
                        let err = index.upsert(items).expect_err(&ctx);
                        assert_eq!(err.index, j, "{ctx}: names the bad item");
                        check_all(&index, &model, &ctx);
                        continue;
                    }
                }
                let (added, len) = index
                    .upsert(items.clone())
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                model.upsert(&items);
                let distinct: HashSet<&String> = items.iter().map(|i| &i.id).collect();
                assert_eq!(
                    (added, len),
                    (distinct.len(), model.items.len()),
                    "{ctx}: add counts"
                );
            }
            8..=10 => {
                let ids: Vec<String> = (0..1 + r.below(4))
                    .map(|_| format!("i{}", r.below(pool)))
                    .collect();
                let distinct: HashSet<&String> = ids.iter().collect();
                let present = distinct
                    .iter()
                    .filter(|i| model.items.contains_key(**i))
                    .count();
                let (n, len) = index.delete(&ids);
                for id in &ids {
                    model.items.remove(id);
                }
                assert_eq!(
                    (n, len),
                    (present, model.items.len()),
                    "{ctx}: delete counts"
                );
            }
            11..=16 => check_search(&index, &model, &mut r, !graph_only, &ctx),
            17 => {
                let bytes = index.encode();
                index = Index::decode(&bytes).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                if graph_only {
                    index.set_exact_below(0);
                }
                check_all(&index, &model, &ctx);
            }
            18 => {
                // Merge a few items through a second index, half of them already present.
                let items: Vec<Item> = (0..r.below(4))
                    .map(|_| Item {
                        id: format!("i{}", r.below(pool * 2)),
                        vector: vector(&mut r, dim),
                        metadata: metadata(&mut r),
                    })
                    .collect();
                other.upsert(items).expect("valid");
                let incoming = other.items();
                let clear = r.chance(0.5);
                let rep = other.merge_into(&index, clear).expect("same dimension");
                let mut merged = 0;
                for it in incoming {
                    if !model.items.contains_key(&it.id) {
                        merged += 1;
                        model.upsert(&[it]);
                    }
                }
                assert_eq!(rep.merged, merged, "{ctx}: merged");
                assert_eq!(rep.failed, 0, "{ctx}");
                if clear {
                    assert!(other.is_empty(), "{ctx}: source cleared");
                }
                assert!(index.merge_into(&index, false).is_err());
            }
            _ => {
                index.compact();
                check_all(&index, &model, &ctx);
            }
        }
    }
    check_all(&index, &model, &format!("seed {seed} end"));
}

#[test]
fn tiny_indexes_match_the_model() {
    for seed in 0..300 {
        for metric in [Metric::Cosine, Metric::Euclidean] {
            // Pools of 1, 2, 3 ids keep the index at sizes 0–3 through every operation.
            run(seed, metric, false, 120, 1 + (seed as usize % 3));
            run(seed, metric, true, 120, 1 + (seed as usize % 3));
        }
    }
}

#[test]
fn small_indexes_match_the_model() {
    for seed in 1000..1060 {
        for metric in [Metric::Cosine, Metric::Euclidean] {
            run(seed, metric, false, 400, 40);
            run(seed, metric, true, 400, 40);
        }
    }
}

#[test]
fn indexes_of_thousands_keep_their_invariants() {
    for seed in [7u64, 8] {
        run(seed, Metric::Cosine, true, 3000, 3000);
    }
}

#[test]
fn damaged_bytes_are_refused_never_a_panic() {
    let mut r = Rng(5);
    let index = Index::new(Params::new(8)).expect("params");
    let items: Vec<Item> = (0..300)
        .map(|i| Item {
            id: format!("i{i}"),
            vector: vector(&mut r, 8),
            metadata: metadata(&mut r),
        })
        .collect();
    index.upsert(items).expect("valid");
    let good = index.encode();
    assert!(Index::decode(&good).is_ok());
    assert!(Index::decode(&[]).is_err());
    assert!(Index::decode(&good[..good.len() / 2]).is_err());
    for i in (0..good.len()).step_by(97) {
        let mut bad = good.clone();
        bad[i] ^= 0x40;
        assert!(Index::decode(&bad).is_err(), "flip at {i}");
    }
    // An empty index round-trips too.
    let empty = Index::new(Params::new(3)).expect("params");
    let back = Index::decode(&empty.encode()).expect("empty decodes");
    assert_eq!(back.len(), 0);
}

/// Clustered vectors, the shape real embeddings have.
fn clustered(r: &mut Rng, n: usize, centres: &[Vec<f32>]) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            let c = &centres[r.below(centres.len())];
            c.iter().map(|x| x + (r.unit() - 0.5) * 0.6).collect()
        })
        .collect()
}

#[test]
fn the_graph_finds_the_true_neighbours() {
    graph_recall(1);
}

#[test]
fn a_graph_linked_on_four_threads_finds_them_too() {
    graph_recall(4);
}

fn graph_recall(threads: usize) {
    let mut r = Rng(11);
    let dim = 24;
    let centres: Vec<Vec<f32>> = (0..30)
        .map(|_| (0..dim).map(|_| r.unit() * 2.0 - 1.0).collect())
        .collect();
    let data = clustered(&mut r, 6000, &centres);
    let index = Index::new(Params::new(dim)).expect("params");
    index.set_exact_below(0);
    index.set_threads(threads);
    let items: Vec<Item> = data
        .iter()
        .enumerate()
        .map(|(i, v)| Item {
            id: format!("v{i}"),
            vector: v.clone(),
            metadata: None,
        })
        .collect();
    index.upsert(items).expect("valid");
    // Delete a third and replace a sixth: tombstones route but never answer.
    let gone: Vec<String> = (0..6000).step_by(3).map(|i| format!("v{i}")).collect();
    index.delete(&gone);
    let p = Params::new(dim);
    let mut live: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for (i, v) in data.iter().enumerate() {
        if i % 3 != 0 {
            live.insert(format!("v{i}"), stored(&p, v));
        }
    }
    let queries = clustered(&mut r, 200, &centres);
    let (mut found, mut wanted) = (0usize, 0usize);
    for q in &queries {
        let qs = stored(&p, q);
        let mut truth: Vec<(f32, &String)> = live
            .iter()
            .map(|(id, v)| (distance(&p, &qs, v), id))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        let truth: HashSet<&String> = truth.iter().take(10).map(|t| t.1).collect();
        let hits = index
            .search(&Query {
                vector: q,
                k: 10,
                ef: Some(64),
                exclude: None,
                filter: None,
                text: None,
                fusion: None,
            })
            .expect("query");
        assert_eq!(hits.len(), 10);
        found += hits.iter().filter(|h| truth.contains(&h.id)).count();
        wanted += 10;
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.95, "recall@10 {recall} on {threads} thread(s)");
    // Past the threshold, a compaction gives the memory back and keeps every answer.
    assert!(index.wants_compaction());
    let before = index.stats();
    index.compact();
    let after = index.stats();
    assert_eq!((after.length, after.tombstones), (before.length, 0));
    assert_eq!(after.slots, before.length);
    for (id, v) in live.iter().take(50) {
        let hits = index
            .search(&Query {
                vector: v,
                k: 1,
                ef: None,
                exclude: None,
                filter: None,
                text: None,
                fusion: None,
            })
            .expect("query");
        assert!(hits[0].distance < 1e-5, "{id} finds itself or a twin");
    }
}
