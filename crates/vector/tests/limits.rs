//! Every limit an add enforces is one the snapshot format can hold: the extremes round-trip
//! through `.lhv1` bytes, and one step past each is refused naming the item.

#![allow(clippy::unwrap_used)]

use lakehouse_vector::{
    Index, Item, MAX_DIMENSION, MAX_ID_BYTES, MAX_METADATA_DEPTH, Metadata, Params,
};
use serde_json::json;

fn nested(depth: usize) -> Metadata {
    let mut v = json!("leaf");
    for level in (2..=depth).rev() {
        v = if level % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    json!({ "k": v }).as_object().cloned().unwrap()
}

#[test]
fn the_extremes_an_add_accepts_round_trip_through_a_snapshot() {
    let index = Index::new(Params::new(MAX_DIMENSION)).unwrap();
    let mut v = vec![0.0f32; MAX_DIMENSION];
    v[0] = 1.0;
    let long_id: String = "é".repeat(MAX_ID_BYTES / 2);
    assert_eq!(long_id.len(), MAX_ID_BYTES);
    let items = vec![
        Item {
            id: long_id.clone(),
            vector: v.clone(),
            metadata: Some(nested(MAX_METADATA_DEPTH)),
        },
        Item {
            id: "..".into(),
            vector: v.iter().rev().copied().collect(),
            metadata: Some(
                json!({"s": "x".repeat(1 << 20)})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        },
    ];
    index.upsert(items).unwrap();
    let back = Index::decode(&index.encode()).unwrap();
    assert_eq!(back.len(), 2);
    let (_, meta) = back.get(&long_id).unwrap();
    assert_eq!(meta, nested(MAX_METADATA_DEPTH));
    assert!(back.get("..").is_some());
}

#[test]
fn one_step_past_each_limit_is_refused_naming_the_item() {
    let index = Index::new(Params::new(3)).unwrap();
    let ok = |id: &str| Item {
        id: id.into(),
        vector: vec![1.0, 0.0, 0.0],
        metadata: None,
    };
    let too_deep = Item {
        metadata: Some(nested(MAX_METADATA_DEPTH + 1)),
        ..ok("deep")
    };
    let e = index.upsert(vec![ok("a"), too_deep]).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(
        e.reason.contains("65 levels") && e.reason.contains("64"),
        "{e}"
    );
    let e = index
        .upsert(vec![ok(&"x".repeat(MAX_ID_BYTES + 1))])
        .unwrap_err();
    assert!(e.reason.contains("1024"), "{e}");
    assert_eq!(index.len(), 0, "a refused batch changed nothing");
}
