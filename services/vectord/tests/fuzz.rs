//! The write-log record decoder on damaged bytes: 1,000 truncated or bit-flipped records are
//! refused, and mutated records (also re-sealed with a valid checksum, to reach the checks
//! behind it) are refused or decode; never a panic or a hang.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_vector::Item;
use lakehouse_vector::codec::checksum;
use lakehouse_vectord::wal::{Write, decode, encode};
use serde_json::json;

fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    if b.len() >= 8 {
        let n = b.len() - 8;
        let sum = checksum(&b[..n]);
        b[n..].copy_from_slice(&sum.to_le_bytes());
    }
    b
}

#[test]
fn damaged_log_records_are_refused_never_a_panic() {
    let items: Vec<Item> = (0..40)
        .map(|i| Item {
            id: format!("id-{i}"),
            vector: vec![i as f32, 1.0, -2.0],
            metadata: json!({"i": i, "deep": [[{"x": i}]]}).as_object().cloned(),
        })
        .collect();
    let ids = vec!["a".to_owned(), "b".to_owned()];
    let record = encode(7, &[Write::Upsert(&items), Write::Delete(&ids)], 3);
    let mut r = lakehouse_fuzz::Rng::new(3);
    for i in 0..1000 {
        let bad = if i % 2 == 0 {
            record[..r.below(record.len())].to_vec()
        } else {
            let mut b = record.clone();
            let at = r.below(b.len());
            b[at] ^= 1 << r.below(8);
            b
        };
        assert!(decode(&bad).is_err(), "damaged record {i} decoded");
    }
    let small = encode(1, &[Write::Upsert(&items[..2])], 3);
    let seeds = vec![record, small];
    lakehouse_fuzz::run("wal", &seeds, Duration::from_secs(1), |b| {
        let _ = decode(b);
    });
    lakehouse_fuzz::run("wal-resealed", &seeds, Duration::from_secs(1), |b| {
        let _ = decode(&reseal(b.to_vec()));
    });
}
