//! `scripts/smoke.sh` against the real binaries: every check passes on a healthy fleet and
//! leaves nothing behind; a wrong token fails it with a non-zero exit; a malformed URL is a
//! usage error.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS};

const TOKEN: &str = "e2e-smoke-token";

fn smoke(args: &[&str]) -> (i32, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/smoke.sh");
    let out = Command::new("sh").arg(script).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_smoke_script_passes_on_a_healthy_fleet_and_cleans_up() {
    let mut f = Fleet::new(Some(TOKEN), "");
    f.start(&SERVERS);
    let gw = f.url("gateway");
    let (code, out) = smoke(&[&gw, TOKEN]);
    assert_eq!(code, 0, "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.contains(" passed, 0 failed"), "{out}");
    let passed: u32 = last.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 30, "{out}");
    assert!(!out.contains("FAIL"), "{out}");

    // Nothing of the run is left: no object under raw/, no dataset, no index.
    let api = Api::new(&gw, TOKEN);
    assert!(api.keys("raw/").await.is_empty());
    let (_, list) = api.get("/catalog/list").await;
    assert_eq!(list["count"], 0, "{list}");
    let (_, idx) = api.get("/vectors/index").await;
    assert_eq!(idx["count"], 0, "{idx}");

    // A wrong token fails the authenticated checks and the run.
    let (code, out) = smoke(&[&gw, "not-the-token"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  storage put: got 401"), "{out}");
    assert!(out.contains("ok    gateway /health"), "{out}");
    // A malformed URL is a usage error.
    let (code, out) = smoke(&["localhost:3110"]);
    assert_eq!(code, 2, "{out}");
}
