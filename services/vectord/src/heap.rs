//! The allocator's side of vectord's memory: jemalloc gives freed pages back to the system
//! only as it decays them, and without its background threads that happens only while the
//! process keeps allocating — an index that goes quiet after a load would hold the pages of
//! every request it parsed. `/metrics` shows what the heap holds against what it maps.

use lakehouse_common::metrics;
use tikv_jemalloc_ctl::{background_thread, epoch, stats};

/// Starts jemalloc's background purging; a warning where the platform cannot.
pub fn tune() {
    if let Err(e) = background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc background threads unavailable; freed memory returns to the system only while vectord allocates");
    }
}

/// Heap figures for `/metrics` (nothing where jemalloc keeps no statistics).
pub fn collect(out: &mut String) {
    if epoch::advance().is_err() {
        return;
    }
    let figures = [
        (
            "lakehouse_heap_allocated_bytes",
            "Bytes the process has allocated and not freed.",
            stats::allocated::read(),
        ),
        (
            "lakehouse_heap_resident_bytes",
            "Bytes of memory the allocator holds in physical pages (freed pages not yet returned included).",
            stats::resident::read(),
        ),
    ];
    for (name, help, value) in figures {
        if let Ok(v) = value {
            metrics::write_sample(out, name, "gauge", help, "", v);
        }
    }
}
