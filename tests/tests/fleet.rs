//! The whole fleet as real processes: objects through the authenticated gateway, request ids
//! in the services' logs, readiness that follows dependencies, and SIGTERM during an upload.

// Helpers of this test crate unwrap too: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use lakehouse_e2e::{Fleet, SERVERS};
use reqwest::StatusCode;
use serde_json::Value;

const TOKEN: &str = "e2e-fleet-token";

#[tokio::test(flavor = "multi_thread")]
async fn objects_through_the_gateway() {
    let mut fleet = Fleet::new(Some(TOKEN), "");
    fleet.start(&SERVERS);
    let gw = fleet.url("gateway");
    let c = reqwest::Client::new();
    for name in SERVERS {
        let v: Value = c
            .get(format!("{}/health", fleet.url(name)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["service"], name);
        assert_eq!(v["status"], "ok");
        assert!(v["version"].as_str().unwrap().contains('.'));
    }
    assert_eq!(
        c.get(format!("{gw}/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // No token: refused at the edge. Token: stored, listed, read, deleted.
    let res = c
        .put(format!("{gw}/v1/storage/objects/docs/a.txt"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = c
        .put(format!("{gw}/v1/storage/objects/docs/hello%20world.txt"))
        .bearer_auth(TOKEN)
        .header("x-request-id", "e2e-trace-7f3a")
        .body("hello, lakehouse")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "e2e-trace-7f3a");
    let list: Value = c
        .get(format!("{gw}/v1/storage/list?prefix=docs/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["objects"][0]["key"], "docs/hello world.txt");
    assert_eq!(list["objects"][0]["size"], 16);
    let body = c
        .get(format!("{gw}/v1/storage/objects/docs/hello%20world.txt"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(body.text().await.unwrap(), "hello, lakehouse");
    // The request id crossed the gateway into storaged's own log lines.
    let logs = fleet.proc("storaged").logs();
    let line = logs
        .lines()
        .find(|l| l.contains("e2e-trace-7f3a") && l.contains("object stored"))
        .unwrap_or_else(|| panic!("{logs}"));
    let v: Value = serde_json::from_str(line).expect("log lines are JSON");
    assert_eq!(v["span"]["request_id"], "e2e-trace-7f3a");
    // Services behind the gateway need the token too.
    let direct = c
        .get(format!("{}/storage/list", fleet.url("storaged")))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::UNAUTHORIZED);
    // A route no service has answers a JSON 404, never a fake success.
    let res = c
        .get(format!("{gw}/v1/vectors/x"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let res = c
        .delete(format!("{gw}/v1/storage/objects/docs/hello%20world.txt"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Metrics are served and protected.
    let m = c
        .get(format!("{gw}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("route=\"/v1/storage/{*rest}\""), "{m}");
    // SIGTERM: every service exits 0.
    for (_, p) in &fleet.procs {
        p.terminate();
    }
    for (name, p) in &mut fleet.procs {
        assert_eq!(p.wait_exit(Duration::from_secs(15)), Some(0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_dependencies() {
    let mut fleet = Fleet::new(None, "");
    let catalogd = fleet.spawn("catalogd");
    let c = reqwest::Client::new();
    let ready = format!("{}/ready", fleet.url("catalogd"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let res = loop {
        if let Ok(r) = c.get(&ready).send().await {
            break r;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = res.json().await.unwrap();
    assert!(
        v["reasons"][0].as_str().unwrap().contains("storaged"),
        "{v}"
    );
    fleet.start(&["storaged"]);
    // catalogd loads its manifests once storage answers (retrying with backoff up to 5 s).
    lakehouse_e2e::wait_ready(&fleet.url("catalogd"), Duration::from_secs(15));
    assert_eq!(c.get(&ready).send().await.unwrap().status(), StatusCode::OK);
    drop(catalogd);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_in_flight_upload_complete() {
    let mut fleet = Fleet::new(None, "");
    fleet.start(&["storaged"]);
    let url = format!("{}/storage/objects/slow/upload.bin", fleet.url("storaged"));
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(&url)
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    futures::SinkExt::send(&mut tx, Ok(Bytes::from(vec![1u8; 1 << 20])))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet.proc("storaged").terminate();
    // Keep sending after the signal: the request must still complete.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        futures::SinkExt::send(&mut tx, Ok(Bytes::from(vec![2u8; 1 << 20])))
            .await
            .unwrap();
    }
    drop(tx);
    let res = upload.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["size"], 5 << 20);
    assert_eq!(
        fleet.proc("storaged").wait_exit(Duration::from_secs(10)),
        Some(0)
    );
    // New connections are refused once it stopped; after a restart the object is whole.
    assert!(reqwest::get(&url).await.is_err());
    fleet.procs.clear();
    fleet.start(&["storaged"]);
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(body.len(), 5 << 20);
    assert!(body[..1 << 20].iter().all(|b| *b == 1) && body[1 << 20..].iter().all(|b| *b == 2));
}

#[test]
fn a_port_taken_before_start_gets_replaced() {
    // Another test's process may bind a port between our picking it and our binding it.
    let mut f = Fleet::new(Some("fleet-port-token"), "");
    let stolen = f.port("storaged");
    let _thief = std::net::TcpListener::bind(("127.0.0.1", stolen)).unwrap();
    f.start(&["storaged"]);
    assert_ne!(f.port("storaged"), stolen);
    assert!(
        std::fs::read_to_string(&f.config)
            .unwrap()
            .contains(&format!("127.0.0.1:{}\"", f.port("storaged")))
    );
    assert!(f.proc("storaged").child.try_wait().unwrap().is_none());
}
