//! The log position a caller records with its writes: kept by chunked upserts, deletes,
//! save+load and compaction, so a log replayed after a crash starts at the right record.

use lakehouse_vector::{APPLY_CHUNK, Index, Item, Params};

fn items(range: std::ops::Range<usize>) -> Vec<Item> {
    range
        .map(|i| Item {
            id: format!("i{i}"),
            vector: vec![1.0 + i as f32, (i % 7) as f32, (i % 3) as f32],
            metadata: None,
        })
        .collect()
}

#[test]
fn sequence_survives_chunks_saves_and_compaction() {
    let ix = Index::new(Params::new(3)).unwrap();
    assert_eq!(ix.sequence(), 0);
    let n = 3 * APPLY_CHUNK + 5;
    assert_eq!(ix.upsert_at(items(0..n), Some(4)).unwrap(), (n, n));
    assert_eq!(ix.sequence(), 4);
    // A batch refused as a whole changes neither items nor the sequence.
    let mut bad = items(n..n + 3);
    bad[2].vector = vec![f32::NAN, 0.0, 0.0];
    let err = ix.upsert_at(bad.clone(), Some(5)).unwrap_err();
    assert_eq!(err.to_string(), "items[2]: vector holds NaN or infinity");
    assert_eq!(ix.check(&bad).unwrap_err().index, 2);
    assert_eq!((ix.len(), ix.sequence()), (n, 4));
    // An empty batch and a delete of nothing still move the position.
    assert_eq!(ix.upsert_at(Vec::new(), Some(5)).unwrap(), (0, n));
    assert_eq!(ix.delete_at(&["absent".into()], Some(6)), (0, n));
    assert_eq!(ix.sequence(), 6);
    let ids: Vec<String> = (0..n - 10).map(|i| format!("i{i}")).collect();
    assert_eq!(ix.delete_at(&ids, Some(7)), (n - 10, 10));
    let back = Index::decode(&ix.encode()).unwrap();
    assert_eq!((back.sequence(), back.len()), (7, 10));
    ix.compact();
    assert_eq!((ix.sequence(), ix.len(), ix.stats().tombstones), (7, 10, 0));
    // Deleting everything resets the graph but not the position.
    let rest: Vec<String> = (n - 10..n).map(|i| format!("i{i}")).collect();
    assert_eq!(ix.delete_at(&rest, Some(8)), (10, 0));
    assert_eq!(ix.sequence(), 8);
}

#[test]
fn cosine_refuses_vectors_whose_length_overflows_or_underflows() {
    let ix = Index::new(Params::new(2)).unwrap();
    for v in [[0.0, 0.0], [1e30, 1e30], [1e-30, 0.0]] {
        let it = vec![Item {
            id: "a".into(),
            vector: v.to_vec(),
            metadata: None,
        }];
        let e = ix.check(&it).unwrap_err();
        assert!(e.reason.contains("zero vector"), "{v:?}: {e}");
        assert!(ix.upsert(it).is_err());
    }
    assert!(ix.is_empty());
}
