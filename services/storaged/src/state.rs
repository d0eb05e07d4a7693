//! Shared state of storaged's handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lakehouse_common::config::StoragedConfig;
use lakehouse_common::metrics::write_sample;
use lakehouse_storage::{KeyLocks, ObjectStore};
use tokio::sync::Semaphore;

/// Limits applied by the handlers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest object accepted.
    pub max_object_bytes: u64,
    /// Uploads processed at once.
    pub max_uploads: usize,
    /// How long an upload waits for a slot.
    pub upload_queue_timeout: Duration,
    /// Limit for one transfer.
    pub transfer_timeout: Duration,
}

/// Running totals exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Bytes accepted by completed uploads.
    pub bytes_written: AtomicU64,
    /// Bytes sent by downloads.
    pub bytes_read: AtomicU64,
    /// Completed uploads.
    pub objects_written: AtomicU64,
    /// Deleted objects.
    pub objects_deleted: AtomicU64,
    /// Uploads refused because every slot stayed busy.
    pub uploads_rejected: AtomicU64,
}

/// Handler state: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The backend.
    pub store: Arc<dyn ObjectStore>,
    /// One permit per upload in flight.
    pub upload_slots: Arc<Semaphore>,
    /// Limits.
    pub limits: Limits,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Held by conditional writes from their check to their write.
    pub key_locks: Arc<KeyLocks>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.store.backend_name())
            .field("limits", &self.limits)
            .finish()
    }
}

impl AppState {
    /// State for `store` with the limits of `cfg`.
    pub fn new(store: Arc<dyn ObjectStore>, cfg: &StoragedConfig) -> Self {
        let limits = Limits {
            max_object_bytes: cfg.max_object_bytes,
            max_uploads: cfg.max_concurrent_uploads,
            upload_queue_timeout: Duration::from_millis(cfg.upload_queue_timeout_ms),
            transfer_timeout: Duration::from_millis(cfg.transfer_timeout_ms),
        };
        Self {
            store,
            upload_slots: Arc::new(Semaphore::new(limits.max_uploads)),
            limits,
            stats: Arc::default(),
            key_locks: Arc::default(),
        }
    }

    /// Uploads currently holding a slot.
    pub fn uploads_in_flight(&self) -> usize {
        self.limits.max_uploads - self.upload_slots.available_permits()
    }

    /// Appends storaged's figures to a metrics exposition.
    pub fn render_metrics(&self, out: &mut String) {
        let backend = format!("backend=\"{}\"", self.store.backend_name());
        let s = &self.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        write_sample(
            out,
            "lakehouse_storage_uploads_in_flight",
            "gauge",
            "Uploads holding a slot now.",
            &backend,
            self.uploads_in_flight(),
        );
        write_sample(
            out,
            "lakehouse_storage_upload_slots",
            "gauge",
            "Uploads allowed at once.",
            &backend,
            self.limits.max_uploads,
        );
        write_sample(
            out,
            "lakehouse_storage_bytes_written_total",
            "counter",
            "Bytes stored by completed uploads.",
            &backend,
            load(&s.bytes_written),
        );
        write_sample(
            out,
            "lakehouse_storage_bytes_read_total",
            "counter",
            "Bytes sent to readers.",
            &backend,
            load(&s.bytes_read),
        );
        write_sample(
            out,
            "lakehouse_storage_objects_written_total",
            "counter",
            "Completed uploads.",
            &backend,
            load(&s.objects_written),
        );
        write_sample(
            out,
            "lakehouse_storage_objects_deleted_total",
            "counter",
            "Deleted objects.",
            &backend,
            load(&s.objects_deleted),
        );
        write_sample(
            out,
            "lakehouse_storage_uploads_rejected_total",
            "counter",
            "Uploads refused with 503 because every slot stayed busy.",
            &backend,
            load(&s.uploads_rejected),
        );
    }
}
