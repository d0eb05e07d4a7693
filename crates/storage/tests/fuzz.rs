//! `Range` headers on hostile text: parsed or refused, and a parsed range resolves inside the
//! object or is refused; never a panic or an overflow.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_storage::ByteRange;

#[test]
fn ranges_resolve_inside_the_object_or_are_refused() {
    let seeds: Vec<Vec<u8>> = [
        "bytes=0-99",
        "bytes=-5",
        "bytes=10-",
        "bytes=18446744073709551615-",
        "bytes=1-2,3-4",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    lakehouse_fuzz::run("range", &seeds, Duration::from_secs(1), |b| {
        let s = String::from_utf8_lossy(b);
        if let Ok(Some(r)) = ByteRange::parse_header(&s) {
            for size in [0u64, 1, 7, 100, u64::MAX] {
                if let Ok((a, z)) = r.resolve(size) {
                    assert!(a <= z && z < size, "{s} on {size}: {a}-{z}");
                }
            }
            let _ = r.to_header();
        }
    });
}
