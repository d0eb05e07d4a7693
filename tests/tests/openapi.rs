//! The API contract. The OpenAPI document the gateway serves must be exactly what the handlers
//! describe (assembled afresh here from every service's route registrations); every route of
//! the routers is in it and every path in it is a route; a real fleet serves it and answers
//! every operation in it; and schemathesis (from PyPI, `scripts/api-fuzz.sh install`) fuzzes a
//! real fleet from it, bounded in count and time, with zero 5xx answers and zero answers the
//! document does not describe.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage, bin_dir};
use serde_json::{Value, json};

const TOKEN: &str = "contract-token-8d2e4f6a1b3c5d7e";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn assembled() -> Value {
    lakehouse_gateway::openapi::document(vec![
        lakehouse_storaged::openapi(),
        lakehouse_catalogd::openapi(),
        lakehouse_ingestd::openapi(),
        lakehouse_queryd::openapi(),
        lakehouse_vectord::openapi(),
    ])
}

fn served_file() -> PathBuf {
    repo().join("services/gateway/openapi.json")
}

#[test]
fn the_served_document_is_the_one_the_handlers_describe() {
    let want = serde_json::to_string_pretty(&assembled()).unwrap() + "\n";
    if std::env::var("LAKEHOUSE_WRITE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(served_file(), &want).unwrap();
    }
    let have = std::fs::read_to_string(served_file()).unwrap();
    assert!(
        have == want,
        "services/gateway/openapi.json differs from what the handlers describe; regenerate it \
         with `LAKEHOUSE_WRITE_OPENAPI=1 cargo test --release -p lakehouse-e2e --test openapi` \
         and commit it"
    );
    let doc: Value = serde_json::from_str(&have).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every operation says what it answers, errors included, with schemas.
    for (path, method, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{method} {path} has no success answer"
        );
        if !path.starts_with("/console") && method != "head" {
            assert!(
                responses.contains_key("400") && responses.contains_key("503"),
                "{method} {path} lacks the shared errors"
            );
        }
    }
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "head", "patch"].contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

/// Whether an axum route pattern (`{x}` one segment, `{*rest}` the rest) matches a document
/// path (whose parameters are `{x}`).
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (p, d): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    for (i, seg) in p.iter().enumerate() {
        if seg.starts_with("{*") {
            return d.len() > i;
        }
        match d.get(i) {
            None => return false,
            Some(x) if seg.starts_with('{') || x.starts_with('{') || x == seg => {}
            Some(_) => return false,
        }
    }
    p.len() == d.len()
}

#[test]
fn every_route_is_in_the_document_and_every_path_is_a_route() {
    let doc = assembled();
    let paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let mut config = lakehouse_common::Config::default();
    config.chat.url = Some("http://127.0.0.1:1".into());
    config.embed.url = Some("http://127.0.0.1:1".into());
    let table = lakehouse_gateway::upstreams::table(&config, None, None, None);
    // The gateway forwards: every upstream's routes lead to documented paths, and every
    // documented /v1 path is forwarded somewhere or answered by the gateway itself.
    for up in &table {
        assert!(
            up.routes
                .iter()
                .any(|r| paths.iter().any(|p| pattern_matches(r, p))),
            "{} is routed but none of its paths is documented",
            up.name
        );
    }
    let own = ["/v1/health", "/v1/openapi.json"];
    for p in paths.iter().filter(|p| p.starts_with("/v1/")) {
        let forwarded = table
            .iter()
            .flat_map(|u| u.routes.iter())
            .any(|r| pattern_matches(r, p));
        assert!(
            forwarded || own.contains(&p.as_str()),
            "{p} is documented but no route reaches it"
        );
    }
    // Every service registers its routes with their descriptions (`routes!`), so its router
    // and its document are one list. The only routes added without one are these fallbacks,
    // which answer nothing but an error, and the gateway's forwarding table checked above.
    let allowed = [
        ("services/storaged/src/lib.rs", "\"/storage/objects/\","),
        (
            "services/catalogd/src/iceberg.rs",
            ".route(\"/iceberg/{*rest}\", any(unknown_route))",
        ),
        (
            "services/gateway/src/lib.rs",
            "router = router.route(route, any(proxy::forward)",
        ),
    ];
    let mut found = Vec::new();
    for dir in ["services", "crates/common/src"] {
        scan(&repo().join(dir), &mut found);
    }
    for (file, line) in &found {
        let rel = file
            .strip_prefix(repo())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            allowed
                .iter()
                .any(|(f, l)| rel == *f && (line.contains(l) || next_line_ok(file, line, l))),
            "{rel}: `{line}` adds a route the document does not describe; register it with \
             `routes!` and a `#[utoipa::path]`"
        );
    }
}

fn next_line_ok(file: &Path, line: &str, want: &str) -> bool {
    // A `.route(` whose path is on the next line.
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .position(|l| l.trim() == line)
        .and_then(|i| lines.get(i + 1))
        .is_some_and(|n| n.contains(want))
}

fn scan(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // The routers themselves, not the tests' own stub servers.
            if !p.ends_with("tests") && !p.ends_with("benches") {
                scan(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for l in text.lines() {
                let t = l.trim();
                if t.contains(".route(") && !t.starts_with("//") {
                    out.push((p.clone(), t.to_owned()));
                }
            }
        }
    }
}

fn sample(name: &str, op: &str) -> String {
    match name {
        "key" => format!("contract/{op}.bin"),
        "ns" => "lakehouse".into(),
        "table" | "name" => "contract".into(),
        "id" => "a".into(),
        _ => "x".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_fleet_serves_the_document_answers_it_and_survives_schemathesis() {
    let schemathesis = std::env::var("LAKEHOUSE_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!("LAKEHOUSE_TEST_SCHEMATHESIS is not set: run `scripts/api-fuzz.sh install` and set it to `scripts/api-fuzz.sh bin` (scripts/test.sh does)")
    });
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    f.append_config("[embed]\nprovider = \"hash\"\ndimension = 8\n");
    f.start(&SERVERS);
    let gw = f.url("gateway");
    let api = Api::new(&gw, TOKEN);
    // Something for the operations to find.
    let (st, _) = api.ingest("name=contract", "a,b\n1,x\n2,y\n").await;
    assert!(st.is_success());
    let (st, _) = api
        .post(
            "/vectors/index",
            &json!({"name": "contract", "dimension": 3}),
        )
        .await;
    assert!(st.is_success());

    // Redirects are answers in their own right here.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let served: Value = http
        .get(format!("{gw}/v1/openapi.json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(served_file()).unwrap()).unwrap();
    assert_eq!(served, file, "the gateway serves the committed document");
    let anonymous = http
        .get(format!("{gw}/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Every documented operation is routed: no "no route" 404 and no 405, and the status is
    // one the document lists for it.
    let ops = operations(&served);
    for (path, method, op) in &ops {
        let mut url = String::new();
        for seg in path.split('/').skip(1) {
            url.push('/');
            match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => url.push_str(&sample(p, method)),
                None => url.push_str(seg),
            }
        }
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = http
            .request(m, format!("{gw}{url}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !(status == 404 && body.contains("no route")),
            "{method} {path} is documented but not routed: {body}"
        );
        assert!(
            op["responses"].get(status.to_string()).is_some(),
            "{method} {path} answered {status}, which the document does not list: {body}"
        );
    }

    // The fuzz run, from the served document.
    let out = bin_dir().join("test-artifacts/schemathesis");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let schema = out.join("openapi.json");
    std::fs::write(&schema, serde_json::to_vec_pretty(&served).unwrap()).unwrap();
    let report = out.join("report.json");
    let run = Command::new(&schemathesis)
        .arg("run")
        .arg(&schema)
        .args(["--url", &gw])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // The model routes forward to an outside server (none here): its answers are not ours.
        .args(["--exclude-tag", "models"])
        .args(["--max-examples", "25", "--max-time", "180", "--seed", "20261202"])
        .args(["--workers", "2", "--request-timeout", "30"])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    std::fs::write(out.join("output.txt"), format!("{stdout}\n{stderr}")).unwrap();
    let tail: String = stdout
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("schemathesis:\n{tail}");
    assert!(
        run.status.success(),
        "schemathesis found answers the document does not describe (full output in {}):\n{tail}\n{stderr}",
        out.display()
    );
    let (sent, failed) = report_counts(&report);
    eprintln!("schemathesis sent {sent} requests, {failed} found a failure");
    assert_eq!(failed, 0, "see {}", report.display());
    assert!(
        sent >= 10 * ops.len() as u64,
        "only {sent} requests were sent"
    );
    // The fleet is still whole after it.
    let ready = http.get(format!("{gw}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// The number of requests of the run and how many found a failure, from its JSON report.
fn report_counts(report: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let n = |k: &str| v["test_cases"][k].as_u64().unwrap_or(0);
    (n("generated"), n("with_failures") + n("errored"))
}
