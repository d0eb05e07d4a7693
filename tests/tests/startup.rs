//! The real binaries refuse to start on a bad config, naming the key, with exit status 2.

// Helpers of this test crate unwrap too: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_e2e::{free_port, spawn_with};

/// Runs `bin --config <file with text>` and returns (exit code, stderr).
fn refuse(bin: &str, text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut p = spawn_with(bin, &cfg, dir.path(), &[]);
    let code = p.wait_exit(Duration::from_secs(10));
    (code, std::fs::read_to_string(&p.stderr).unwrap())
}

#[test]
fn unknown_key_bad_url_bad_bind_name_the_key() {
    for (bin, text, needle) in [
        (
            "storaged",
            "[storaged]\nbind = \"127.0.0.1:0\"\nrooot = \"x\"\n",
            "rooot",
        ),
        ("gateway", "[gatway]\nbind = \"127.0.0.1:0\"\n", "gatway"),
        (
            "gateway",
            "[gateway]\nqueryd_url = \"not a url\"\n",
            "gateway.queryd_url",
        ),
        (
            "gateway",
            "[gateway]\nstoraged_url = \"http://\"\n",
            "gateway.storaged_url",
        ),
        (
            "catalogd",
            "[catalogd]\nstoraged_url = \"ftp://h\"\n",
            "catalogd.storaged_url",
        ),
        (
            "storaged",
            "[storaged]\nbind = \"localhost:99999\"\n",
            "storaged.bind",
        ),
        (
            "storaged",
            "[storaged]\nbackend = \"s3\"\n",
            "storaged.bucket",
        ),
        (
            "queryd",
            "[common]\nrequest_timeout_ms = 0\n",
            "common.request_timeout_ms",
        ),
    ] {
        let (code, stderr) = refuse(bin, text);
        assert_eq!(code, Some(2), "{bin} with {text:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{bin}: stderr does not name {needle}: {stderr}"
        );
    }
}

#[test]
fn allowlist_with_no_valid_entry_refuses_to_start() {
    let text = format!(
        "[auth]\nallowed_ips = [\"bogus\", \"10.0.0.0/99\"]\n[storaged]\nbind = \"127.0.0.1:{}\"\n",
        free_port()
    );
    let (code, stderr) = refuse("storaged", &text);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("auth.allowed_ips"), "{stderr}");
}

#[test]
fn non_loopback_bind_without_token_refuses_to_start() {
    let text = format!("[gateway]\nbind = \"0.0.0.0:{}\"\n", free_port());
    let (code, stderr) = refuse("gateway", &text);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("gateway.bind") && stderr.contains("no auth token"),
        "{stderr}"
    );
}

#[test]
fn batch_jobs_refuse_bad_config_naming_the_key() {
    let run = |job: &str, config: &str, args: &[&str]| {
        let out = std::process::Command::new(lakehouse_e2e::bin(job))
            .args(["--config", config, "run"])
            .args(args)
            .env_remove("LAKEHOUSE_AUTH_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    for (job, text, needle) in [
        (
            "materializer",
            "[embed]\nprovider = \"magic\"\n",
            "embed.provider",
        ),
        (
            "materializer",
            "[materializer]\nmax_rows_per_object = 0\n",
            "materializer.max_rows_per_object",
        ),
        ("replay", "[replay]\nk = 0\n", "replay.k"),
        ("replay", "[chat]\nurl = \"nope\"\n", "chat.url"),
        ("replay", "[replay]\nsystem = \"x\"\n", "system"),
    ] {
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, text).unwrap();
        let (code, stderr) = run(
            job,
            cfg.to_str().unwrap(),
            &["--prompt", "x", "--dry-run"][..if job == "replay" { 3 } else { 0 }],
        );
        assert_eq!(code, Some(2), "{job} {text}: {stderr}");
        assert!(stderr.contains(needle), "{job} {text}: {stderr}");
    }
    // The shipped config loads; without a chat model, replay says so before calling anything.
    // Read at run time: the target directory is shared with other checkouts, whose builds of
    // this test would carry their own path if it were compiled in.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let shipped = format!("{manifest}/../lakehouse.toml");
    let (code, stderr) = run("replay", &shipped, &["--prompt", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no chat model is configured"), "{stderr}");
}
