//! The `.lhv1` decoder on damaged bytes: truncated, bit-flipped and mutated snapshots are
//! refused or decode into an index that answers; never a panic or a hang. Mutations are also
//! re-sealed with a valid checksum, so the decoder's own checks behind the checksum are
//! reached, as a bug in an old writer would reach them.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_vector::codec::checksum;
use lakehouse_vector::{Index, Item, Params, Query};
use serde_json::json;

fn seed_index(n: usize, dim: usize) -> Vec<u8> {
    let index = Index::new(Params::new(dim)).unwrap();
    let items: Vec<Item> = (0..n)
        .map(|i| Item {
            id: format!("i{i}"),
            vector: (0..dim)
                .map(|d| ((i * 31 + d * 7) % 17) as f32 + 0.5)
                .collect(),
            metadata: json!({"i": i, "tag": [i % 3]}).as_object().cloned(),
        })
        .collect();
    index.upsert(items).unwrap();
    index.delete(&["i3".to_owned()]);
    index.encode()
}

fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() < 8 {
        return bytes;
    }
    let body = bytes.len() - 8;
    let sum = checksum(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
    bytes
}

fn exercise(bytes: &[u8]) {
    if let Ok(index) = Index::decode(bytes) {
        let dim = index.params().dimension;
        let q = vec![0.25f32; dim];
        let _ = index.search(&Query {
            vector: &q,
            k: 5,
            ef: Some(16),
            exclude: None,
            filter: None,
            text: None,
            fusion: None,
        });
        let _ = index.get("i1");
        let _ = index.items();
    }
}

#[test]
fn damaged_snapshots_are_refused_never_a_panic() {
    let seeds = [seed_index(0, 3), seed_index(5, 3), seed_index(1500, 4)];
    // 1,000 truncated or single-bit-flipped files: each one refused.
    let big = &seeds[2];
    let mut r = lakehouse_fuzz::Rng::new(11);
    for i in 0..1000 {
        let bad = if i % 2 == 0 {
            big[..r.below(big.len())].to_vec()
        } else {
            let mut b = big.clone();
            let at = r.below(b.len());
            b[at] ^= 1 << r.below(8);
            b
        };
        assert!(Index::decode(&bad).is_err(), "damaged copy {i} decoded");
    }
    lakehouse_fuzz::run("lhv1", &seeds[..2], Duration::from_secs(2), exercise);
    lakehouse_fuzz::run("lhv1-resealed", &seeds[..2], Duration::from_secs(2), |b| {
        exercise(&reseal(b.to_vec()));
    });
}
