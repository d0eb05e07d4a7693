//! The web console in a real browser: headless Chromium from Debian's packages, driven through
//! Selenium by `tests/console/drive.py` (`scripts/console-browser.sh install` sets both up).
//! The driver signs in (a wrong token first), opens datasets, a dataset's schema, history and
//! preview, runs SQL and charts a column, searches an index, opens a materializer receipt and
//! the replay runs and the health page, and writes a screenshot of each page. This side checks
//! that the files are served without auth under a strict content security policy, that every
//! request the browser made stayed on the gateway with the token in no URL, and that the token
//! is in no log line.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::fake_chat::FakeChat;
use lakehouse_e2e::{Fleet, SERVERS, Storage, bin_dir, job};
use serde_json::json;

const TOKEN: &str = "console-token-5f1c9a0e7b3d4c2a";

fn python() -> String {
    std::env::var("LAKEHOUSE_TEST_CONSOLE_PYTHON").unwrap_or_else(|_| {
        panic!("LAKEHOUSE_TEST_CONSOLE_PYTHON is not set: run `scripts/console-browser.sh install` and set it to `scripts/console-browser.sh python` (scripts/test.sh does)")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_real_browser_without_the_token_in_a_url_or_a_log() {
    let python = python();
    let chat = FakeChat::start().await;
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let jobs = f.jobs_config("", "k = 2\n");
    f.append_config(&format!(
        "[embed]\nprovider = \"hash\"\ndimension = 32\n\
         [chat]\nurl = \"{}\"\nmodel = \"fake-model\"\nattempts = 1\n{jobs}",
        chat.url
    ));
    f.start(&SERVERS);
    let gw = f.url("gateway");
    let api = Api::new(&gw, TOKEN);
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/samples/placements.csv");
    let (st, _) = api
        .ingest("name=placements", std::fs::read(sample).unwrap())
        .await;
    assert!(st.is_success());
    let (st, _) = api.ingest("name=big", "n\n1\n2\n3\n").await;
    assert!(st.is_success());
    api.post("/vectors/index", &json!({"name": "docs", "dimension": 3}))
        .await;
    let items = json!({"items": [
        {"id": "a", "vector": [1, 0, 0], "metadata": {"lang": "en"}},
        {"id": "b", "vector": [0, 1, 0]},
        {"id": "c", "vector": [0, 0, 1]},
    ]});
    let (st, _) = api.post("/vectors/index/docs/add", &items).await;
    assert!(st.is_success());
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/materializer/fixtures");
    let input = fixtures.to_str().unwrap();
    let args = ["run", "--input", input, "--index", "evidence"];
    job(&f, "materializer", &args).await.ok();
    job(&f, "replay", &["run", "--prompt", "order 1182?"])
        .await
        .ok();

    // The files: no token needed, a strict policy, nothing else under /console.
    let http = reqwest::Client::new();
    let res = http.get(format!("{gw}/console/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "an outside asset: {html}"
    );
    for file in ["console.js", "console.css"] {
        let r = http
            .get(format!("{gw}/console/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
    }
    let r = http
        .get(format!("{gw}/console/../v1/catalog/list"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200, "the console route must not open the API");
    let r = http
        .get(format!("{gw}/console/secrets.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let artifacts = bin_dir().join("test-artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console/drive.py");
    let out = Command::new(&python)
        .arg(&driver)
        .arg(&gw)
        .arg(TOKEN)
        .arg(&artifacts)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nscreenshots in {}",
        artifacts.display()
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    let urls: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("URL "))
        .collect();
    assert!(urls.iter().any(|u| u.contains("/v1/sql")), "{stdout}");
    for u in &urls {
        assert!(!u.contains(TOKEN), "the token is in a URL: {u}");
        assert!(
            u.starts_with(&gw) || u.starts_with("data:"),
            "a request left the gateway: {u}"
        );
    }
    for page in [
        "01-sign-in",
        "02-datasets",
        "03-dataset",
        "04-sql",
        "05-vectors",
        "06-jobs",
        "07-receipt",
        "08-health",
    ] {
        let shot = artifacts.join(format!("{page}.png"));
        let bytes = std::fs::read(&shot).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5000,
            "{}",
            shot.display()
        );
    }
    // No log line of any service, and no audit record, holds the token.
    for e in walk(f.dir.path()) {
        let name = e.to_string_lossy();
        if name.ends_with(".out") || name.ends_with(".err") || name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&e).unwrap_or_default();
            assert!(!text.contains(TOKEN), "{} holds the token", e.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
