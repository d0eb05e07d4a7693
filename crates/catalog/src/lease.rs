//! Which catalogd instance may commit: the one holding the lease, an object in storage
//! (`_catalog/leader.json`) renewed by compare-and-swap. Others stand by, and take it over
//! once it has not changed for a whole lease period as measured on their own clock.
//!
//! Two fences keep a leader that lost its lease (paused, partitioned) from committing: it
//! stops committing three quarters of a lease after its last renewal began, before any
//! standby may take over; and every commit is written create-only, so a write to a version
//! another instance made is refused by storage (the version is the fencing token). Each
//! commit also records the epoch of the lease it was made under.

use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::record::FORMAT;
use crate::store::ObjectStore;
use crate::time::{now_ms, rfc3339};
use crate::{Catalog, CatalogError};

/// Where the lease lives.
pub const LEASE_KEY: &str = "_catalog/leader.json";

/// The lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The record's format.
    pub format: u32,
    /// The instance holding it (`[catalogd] instance_name`).
    pub holder: String,
    /// Grows by one at every change of holder (and at every start of one).
    pub epoch: u64,
    /// How long the lease lasts without a renewal.
    pub lease_ms: u64,
    /// When it was last renewed, RFC 3339 (for people; no instance trusts another's clock).
    pub renewed: String,
}

/// How an instance takes part.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This instance's name, unique in the fleet and the same across its restarts: a restart
    /// takes its own lease back at once.
    pub holder: String,
    /// Lease length.
    pub duration: Duration,
}

/// This instance's part, as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// No lease is used: the only instance.
    Single,
    /// Holds the lease with this epoch.
    Leader {
        /// The lease's epoch.
        epoch: u64,
    },
    /// Waits for the lease; `leader` names the holder when one is known.
    Standby {
        /// The holder.
        leader: Option<String>,
    },
}

/// What the lease task knows.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub(crate) leased: bool,
    /// Epoch and the instant until which commits may be made.
    pub(crate) lease: Option<(u64, Instant)>,
    pub(crate) leader: Option<String>,
}

enum Renewal {
    Kept(String),
    Lost(Option<String>),
    Unknown(String),
}

impl<S: ObjectStore> Catalog<S> {
    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This instance's part now.
    pub fn role(&self) -> Role {
        let h = self.held();
        match (h.leased, h.lease) {
            (false, _) => Role::Single,
            (true, Some((epoch, until))) if Instant::now() < until => Role::Leader { epoch },
            (true, _) => Role::Standby {
                leader: h.leader.clone(),
            },
        }
    }

    /// The epoch a commit is made under, or why none may be made now.
    pub(crate) fn commit_epoch(&self) -> Result<Option<u64>, CatalogError> {
        match self.role() {
            Role::Single => Ok(None),
            Role::Leader { epoch } => Ok(Some(epoch)),
            Role::Standby { leader } => Err(not_leader(leader.as_deref())),
        }
    }

    /// Runs the catalog under the lease: takes it when free, keeps it, loads the catalog
    /// while holding it and drops it from memory when the lease is lost. Runs until dropped.
    pub async fn run_leased(&self, cfg: LeaseSettings) {
        self.held().leased = true;
        self.stand_down(None);
        tokio::join!(self.keep_lease(&cfg), self.keep_loaded());
    }

    async fn keep_loaded(&self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let leading = matches!(self.role(), Role::Leader { .. });
            if leading && !self.loaded.load(Ordering::SeqCst) {
                match self.try_load().await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot load the catalog");
                        self.set_load_error(e.to_string());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                if !matches!(self.role(), Role::Leader { .. }) {
                    let leader = self.held().leader.clone();
                    self.stand_down(leader.as_deref());
                }
                continue;
            }
            tokio::select! {
                () = self.reload.notified() => {}
                () = self.role_changed.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// Unloads: the state in memory may be behind the leader's, so nothing is served from it.
    fn stand_down(&self, leader: Option<&str>) {
        self.loaded.store(false, Ordering::SeqCst);
        self.set_load_error(
            not_leader(leader)
                .to_string()
                .trim_end_matches('.')
                .to_owned(),
        );
    }

    async fn keep_lease(&self, cfg: &LeaseSettings) {
        let tick = cfg.duration / 4;
        // Standing by: the lease's ETag as last seen, and since when it has not changed.
        let mut seen: Option<(String, Instant)> = None;
        let mut held: Option<(u64, String)> = None;
        loop {
            let started = Instant::now();
            held = match held.take() {
                Some((epoch, etag)) => match self.renew(cfg, epoch, &etag).await {
                    Renewal::Kept(etag) => {
                        self.held().lease = Some((epoch, started + cfg.duration * 3 / 4));
                        Some((epoch, etag))
                    }
                    Renewal::Lost(by) => {
                        tracing::warn!(holder = ?by, "lost the catalog lease; standing by");
                        self.lost(by);
                        None
                    }
                    Renewal::Unknown(e) => {
                        // Keep trying: the lease is ours until it runs out, and commits stop
                        // by themselves when it does.
                        tracing::warn!(error = %e, "the catalog lease could not be renewed");
                        Some((epoch, etag))
                    }
                },
                None => match self.acquire(cfg, &mut seen).await {
                    Ok(Some((epoch, etag))) => {
                        tracing::info!(epoch, holder = %cfg.holder, "took the catalog lease");
                        {
                            let mut h = self.held();
                            h.lease = Some((epoch, started + cfg.duration * 3 / 4));
                            h.leader = Some(cfg.holder.clone());
                        }
                        self.role_changed.notify_one();
                        Some((epoch, etag))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the catalog lease");
                        None
                    }
                },
            };
            tokio::time::sleep_until(started + tick).await;
        }
    }

    fn lost(&self, by: Option<String>) {
        self.stand_down(by.as_deref());
        {
            let mut h = self.held();
            h.lease = None;
            h.leader = by;
        }
        self.role_changed.notify_one();
    }

    fn record(&self, cfg: &LeaseSettings, epoch: u64) -> Vec<u8> {
        let r = LeaseRecord {
            format: FORMAT,
            holder: cfg.holder.clone(),
            epoch,
            lease_ms: u64::try_from(cfg.duration.as_millis()).unwrap_or(u64::MAX),
            renewed: rfc3339(now_ms()),
        };
        serde_json::to_vec(&r).unwrap_or_default()
    }

    async fn read_lease(&self) -> Result<Option<(LeaseRecord, String)>, String> {
        match self.store.get_tagged(LEASE_KEY).await.map_err(|e| e.0)? {
            None => Ok(None),
            Some((bytes, etag)) => serde_json::from_slice(&bytes)
                .map(|r| Some((r, etag)))
                .map_err(|e| format!("{LEASE_KEY} is not a lease: {e}")),
        }
    }

    async fn renew(&self, cfg: &LeaseSettings, epoch: u64, etag: &str) -> Renewal {
        let body = self.record(cfg, epoch);
        match self.store.put_over(LEASE_KEY, body, etag).await {
            Ok(Some(etag)) => Renewal::Kept(etag),
            Ok(None) => match self.read_lease().await {
                // Our own earlier renewal landed though its answer was lost.
                Ok(Some((r, etag))) if r.holder == cfg.holder && r.epoch == epoch => {
                    Renewal::Kept(etag)
                }
                Ok(r) => Renewal::Lost(r.map(|(r, _)| r.holder)),
                Err(e) => Renewal::Unknown(e),
            },
            Err(e) => Renewal::Unknown(e.0),
        }
    }

    /// Takes the lease when there is none, when it is this instance's own (a restart), or
    /// when it has not changed for a whole lease period.
    async fn acquire(
        &self,
        cfg: &LeaseSettings,
        seen: &mut Option<(String, Instant)>,
    ) -> Result<Option<(u64, String)>, String> {
        let Some((current, etag)) = self.read_lease().await? else {
            let took = self
                .store
                .put_new(LEASE_KEY, self.record(cfg, 1))
                .await
                .map_err(|e| e.0)?;
            return Ok(if took {
                self.tag_of(1, cfg).await?
            } else {
                None
            });
        };
        let expired = match seen {
            Some((e, since)) if *e == etag => {
                since.elapsed() > Duration::from_millis(current.lease_ms)
            }
            _ => {
                *seen = Some((etag.clone(), Instant::now()));
                false
            }
        };
        if current.holder != cfg.holder && !expired {
            self.held().leader = Some(current.holder);
            return Ok(None);
        }
        let epoch = current.epoch + 1;
        let body = self.record(cfg, epoch);
        match self
            .store
            .put_over(LEASE_KEY, body, &etag)
            .await
            .map_err(|e| e.0)?
        {
            Some(etag) => Ok(Some((epoch, etag))),
            None => Ok(None),
        }
    }

    /// The ETag of the lease just created, read back (a create does not answer with one).
    async fn tag_of(
        &self,
        epoch: u64,
        cfg: &LeaseSettings,
    ) -> Result<Option<(u64, String)>, String> {
        Ok(self
            .read_lease()
            .await?
            .filter(|(r, _)| r.holder == cfg.holder && r.epoch == epoch)
            .map(|(_, etag)| (epoch, etag)))
    }
}

fn not_leader(leader: Option<&str>) -> CatalogError {
    CatalogError::NotLeader(match leader {
        Some(l) => format!("this catalogd is standing by; '{l}' holds the catalog lease"),
        None => "this catalogd is standing by; no instance holds the catalog lease yet".into(),
    })
}
