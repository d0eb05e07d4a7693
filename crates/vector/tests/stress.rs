//! Writers, deleters, searchers and compactions on one index at once: no panic, no answer
//! naming a deleted id once its delete returned, full answers throughout, exact counts after.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lakehouse_vector::{Index, Item, Params, Query};

fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

#[test]
fn writers_deleters_and_searchers_at_once() {
    let dim = 16;
    let index = Arc::new(Index::new(Params::new(dim)).expect("params"));
    // Batches of 20 link on 2 threads each, under the searchers and the deleter.
    index.set_threads(2);
    let stable: Vec<Item> = (0..500)
        .map(|i| Item {
            id: format!("stable-{i}"),
            vector: vector(i, dim),
            metadata: None,
        })
        .collect();
    index.upsert(stable).expect("valid");
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    // Two writers add churn ids in batches; one deleter removes them behind them.
    for w in 0..2u64 {
        let index = index.clone();
        threads.push(std::thread::spawn(move || {
            for b in 0..150u64 {
                let items = (0..20)
                    .map(|i| {
                        let n = w * 1_000_000 + b * 20 + i;
                        Item {
                            id: format!("churn-{n}"),
                            vector: vector(n + 7, dim),
                            metadata: None,
                        }
                    })
                    .collect();
                index.upsert(items).expect("valid");
            }
        }));
    }
    {
        let index = index.clone();
        let done = done.clone();
        threads.push(std::thread::spawn(move || {
            loop {
                // Read before the round: a round that starts after the writers stopped sees
                // all their items, and is the last.
                let last = done.load(Ordering::Acquire);
                let ids: Vec<String> = index
                    .items()
                    .into_iter()
                    .map(|i| i.id)
                    .filter(|id| id.starts_with("churn-"))
                    .collect();
                index.delete(&ids);
                // Nothing deleted may answer once delete has returned.
                let gone: HashSet<String> = ids.into_iter().collect();
                let hits = index
                    .search(&Query {
                        vector: &vector(99, dim),
                        k: 200,
                        ef: None,
                        exclude: None,
                        filter: None,
                        text: None,
                        fusion: None,
                    })
                    .expect("query");
                assert!(
                    hits.iter()
                        .all(|h| !gone.contains(&h.id) || index.contains(&h.id))
                );
                index.compact_if_due();
                if last {
                    break;
                }
            }
        }));
    }
    let mut searchers = Vec::new();
    for s in 0..2u64 {
        let index = index.clone();
        let done = done.clone();
        searchers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::Acquire) {
                let hits = index
                    .search(&Query {
                        vector: &vector(s * 7919 + n, dim),
                        k: 10,
                        ef: None,
                        exclude: None,
                        filter: None,
                        text: None,
                        fusion: None,
                    })
                    .expect("query");
                // 500 stable items never leave, so every answer is full.
                assert_eq!(hits.len(), 10);
                assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
                n += 1;
            }
            n
        }));
    }
    for t in threads.drain(..2) {
        t.join().expect("writer");
    }
    done.store(true, Ordering::Release);
    for t in threads {
        t.join().expect("deleter");
    }
    let searches: u64 = searchers
        .into_iter()
        .map(|t| t.join().expect("searcher"))
        .sum();
    assert!(searches > 0);
    // The deleter's last rounds ran after the writers stopped: only the stable items remain.
    let ids: HashSet<String> = index.items().into_iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 500);
    assert!(ids.iter().all(|id| id.starts_with("stable-")));
    assert_eq!(index.len(), 500);
    index.compact();
    let st = index.stats();
    assert_eq!((st.length, st.tombstones, st.slots), (500, 0, 500));
}
