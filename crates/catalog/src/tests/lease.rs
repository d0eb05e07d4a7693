//! Several instances over one store: one leads, the others stand by and take over when its
//! lease runs out; a writer whose view is stale never writes over a commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{code, open, register};
use crate::lease::{LEASE_KEY, LeaseRecord};
use crate::mem::MemStore;
use crate::store::{LOG_PREFIX, ObjectStore, list_all};
use crate::{Catalog, CatalogError, LeaseSettings, Role, Settings};

const LEASE: Duration = Duration::from_millis(400);

type Cat = Arc<Catalog<Arc<MemStore>>>;

fn start(store: &Arc<MemStore>, name: &str) -> (Cat, tokio::task::JoinHandle<()>) {
    let c = Arc::new(Catalog::new(store.clone(), Settings::default()));
    let run = c.clone();
    let cfg = LeaseSettings {
        holder: name.into(),
        duration: LEASE,
    };
    (c, tokio::spawn(async move { run.run_leased(cfg).await }))
}

/// Waits until `c` leads and has loaded, or fails after `limit`; how long that took.
async fn leading(c: &Cat, limit: Duration) -> Duration {
    let t = Instant::now();
    while !(matches!(c.role(), Role::Leader { .. }) && c.not_ready().is_none()) {
        assert!(
            t.elapsed() < limit,
            "no lead after {limit:?}: {:?}",
            c.role()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t.elapsed()
}

#[tokio::test]
async fn one_leads_the_other_takes_over_when_its_lease_runs_out() {
    let store = Arc::new(MemStore::new());
    let (a, a_task) = start(&store, "a");
    leading(&a, Duration::from_secs(2)).await;
    let (b, b_task) = start(&store, "b");
    tokio::time::sleep(LEASE / 2).await;
    assert_eq!(
        b.role(),
        Role::Standby {
            leader: Some("a".into())
        }
    );
    a.register(register("one", &["one/1"]), "r1").await.unwrap();
    let refused = b.register(register("two", &["two/1"]), "r2").await;
    assert!(matches!(refused, Err(CatalogError::NotLeader(ref m)) if m.contains("'a'")));
    assert!(matches!(b.get("one"), Err(CatalogError::NotLeader(_))));

    // a stops renewing (a paused or dead process): b waits out a whole lease, then leads.
    a_task.abort();
    let took = leading(&b, LEASE * 4).await;
    assert!(
        took >= LEASE / 2,
        "took over after {took:?}, before the lease ran out"
    );
    assert_eq!(
        b.get("one").unwrap().row_count,
        1,
        "the new leader reads a's commit"
    );
    // The old leader's view is stale by now: it refuses to commit, or to answer a read, by
    // itself.
    assert!(matches!(a.role(), Role::Standby { .. }));
    assert!(matches!(a.get("one"), Err(CatalogError::NotLeader(_))));
    let stale = a.register(register("three", &["three/1"]), "r3").await;
    assert!(
        matches!(stale, Err(CatalogError::NotLeader(_))),
        "{stale:?}"
    );
    b.register(register("two", &["two/1"]), "r2").await.unwrap();

    let lease: LeaseRecord =
        serde_json::from_slice(&store.get(LEASE_KEY).await.unwrap().unwrap()).unwrap();
    assert_eq!((lease.holder.as_str(), lease.epoch), ("b", 2));
    let epochs: Vec<Option<u64>> = {
        let mut v = Vec::new();
        for o in list_all(&store, LOG_PREFIX).await.unwrap() {
            let c: crate::record::CommitRecord =
                serde_json::from_slice(&store.get(&o.key).await.unwrap().unwrap()).unwrap();
            v.push(c.leader_epoch);
        }
        v
    };
    assert_eq!(epochs, [Some(1), Some(2)], "each commit names its lease");

    // A restart under its own name takes its lease back at once, without waiting it out.
    b_task.abort();
    let (b2, _b2_task) = start(&store, "b");
    let took = leading(&b2, LEASE * 4).await;
    assert!(
        took < LEASE / 2,
        "a restart waited {took:?} for its own lease"
    );
    assert_eq!(b2.names().unwrap(), ["one", "two"]);
}

#[tokio::test]
async fn a_stale_writer_never_writes_over_a_commit() {
    let store = Arc::new(MemStore::new());
    let stale = open(store.clone(), Settings::default()).await;
    let fresh = open(store.clone(), Settings::default()).await;
    fresh
        .register(register("one", &["one/1"]), "r1")
        .await
        .unwrap();
    // `stale` still believes the catalog is at version 0: its version-1 write is refused.
    let err = stale
        .register(register("two", &["two/1"]), "r2")
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::NotLeader(_)), "{err:?}");
    assert_eq!(code(&err), None);
    let t = Instant::now();
    while stale.not_ready().is_some() {
        assert!(t.elapsed() < Duration::from_secs(2), "never reloaded");
        stale.load().await;
    }
    stale
        .register(register("two", &["two/1"]), "r2")
        .await
        .unwrap();
    assert_eq!(stale.version(), 2);
    let log = list_all(&store, LOG_PREFIX).await.unwrap();
    assert_eq!(log.len(), 2, "both commits kept");
    fresh.load().await;
    assert_eq!(fresh.names().unwrap(), ["one", "two"]);
}
