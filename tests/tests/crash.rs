//! A short crash campaign in every test run (scripts/bench/crash.sh runs the long one): each
//! stateful service SIGKILLed under concurrent writers keeps every acknowledged write whole.

#![allow(clippy::unwrap_used)]

use lakehouse_e2e::crash::campaign;

async fn short(service: &'static str) {
    let r = campaign(service, 4, 7).await;
    eprintln!("{}", r.line(service));
    assert_eq!(r.cycles, 4);
    assert!(r.acknowledged > 0, "no write was acknowledged: {r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn storaged_on_fs_survives_sigkill_under_writers() {
    short("storaged").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalogd_survives_sigkill_under_writers() {
    short("catalogd").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn vectord_survives_sigkill_under_writers() {
    short("vectord").await;
}
