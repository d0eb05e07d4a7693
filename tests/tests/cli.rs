//! The operator CLI, `lakehouse`, run as a person and a script would run it against a real
//! fleet: in a pipe (JSON, CSV, Arrow, Parquet, summary lines) and on a terminal (a pseudo
//! terminal from `script`: tables and progress bars), with git/kubectl-style exit codes and
//! `error: …` messages, `--help` on every command and shell completions.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lakehouse_e2e::fake_chat::FakeChat;
use lakehouse_e2e::{Fleet, SERVERS, Storage, bin};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-cli-token";

struct Cli<'a> {
    fleet: &'a Fleet,
}

struct Ran {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Ran {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn json(&self) -> Value {
        assert_eq!(
            self.code,
            0,
            "stdout {}\nstderr {}",
            self.text(),
            self.stderr
        );
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    fn ok(&self) -> String {
        assert_eq!(
            self.code,
            0,
            "stdout {}\nstderr {}",
            self.text(),
            self.stderr
        );
        self.text()
    }
}

fn ran(out: Output) -> Ran {
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Cli<'_> {
    fn command(&self) -> Command {
        let mut c = Command::new(bin("lakehouse"));
        c.current_dir(self.fleet.dir.path())
            .env("LAKEHOUSE_URL", self.fleet.url("gateway"))
            .env("LAKEHOUSE_TOKEN", TOKEN)
            .env_remove("LAKEHOUSE_CLI_CONFIG")
            .env("XDG_CONFIG_HOME", self.fleet.dir.path().join("no-config"))
            .stdin(Stdio::null());
        c
    }

    /// Run in a pipe: stdout and stderr are not terminals.
    fn run(&self, args: &[&str]) -> Ran {
        ran(self.command().args(args).output().unwrap())
    }

    /// Run on a pseudo terminal (`script` from util-linux): what a person sees.
    fn tty(&self, args: &[&str]) -> String {
        let (ok, text) = self.tty_status(args);
        assert!(ok, "{args:?}: {text}");
        text
    }

    /// On a pseudo terminal: whether it exited 0, and what it wrote.
    fn tty_status(&self, args: &[&str]) -> (bool, String) {
        let line = std::iter::once(bin("lakehouse").to_str().unwrap().to_owned())
            .chain(
                args.iter()
                    .map(|a| format!("'{}'", a.replace('\'', "'\\''"))),
            )
            .collect::<Vec<_>>()
            .join(" ");
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(self.fleet.dir.path())
            .env("LAKEHOUSE_URL", self.fleet.url("gateway"))
            .env("LAKEHOUSE_TOKEN", TOKEN)
            .env("XDG_CONFIG_HOME", self.fleet.dir.path().join("no-config"))
            .env("COLUMNS", "160")
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

fn fleet(chat_url: &str) -> Fleet {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let jobs = f.jobs_config("", "k = 2\n");
    f.append_config(&format!(
        "[embed]\nprovider = \"hash\"\ndimension = 64\n\
         [chat]\nurl = \"{chat_url}\"\nmodel = \"fake-model\"\ntimeout_ms = 2000\nattempts = 1\n{jobs}"
    ));
    f.start(&SERVERS);
    f
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/samples/placements.csv")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reads_loads_and_operates_a_fleet_in_pipes_and_on_terminals() {
    let chat = FakeChat::start().await;
    let mut f = fleet(&chat.url);
    let dir = f.dir.path().to_path_buf();
    let cli = Cli { fleet: &f };

    // health: every service, ready.
    let h = cli.run(&["health"]).json();
    assert_eq!(h["status"], "ready", "{h}");
    let names: Vec<&str> = h["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gateway", "storaged", "catalogd", "ingestd", "queryd", "vectord"
        ]
    );

    // ingest: a summary line in a pipe, a progress bar on a terminal.
    let csv = sample();
    let summary = cli.run(&["ingest", csv.to_str().unwrap()]).ok();
    assert!(
        summary.starts_with("placements.csv → placements: "),
        "{summary}"
    );
    assert!(summary.contains(" rows, version 1 ("), "{summary}");
    let big = dir.join("big.csv");
    let mut text = String::from("id,name,score\n");
    for i in 0..400_000 {
        text.push_str(&format!("{i},name-{i},{}.5\n", i % 97));
    }
    std::fs::write(&big, &text).unwrap();
    let on_tty = cli.tty(&["ingest", big.to_str().unwrap(), "--name", "big"]);
    assert!(on_tty.contains("ETA") && on_tty.contains("B/s"), "{on_tty}");
    assert!(on_tty.contains("big.csv → big: 400000 rows"), "{on_tty}");
    let again = cli
        .run(&[
            "ingest",
            big.to_str().unwrap(),
            "--name",
            "big",
            "--mode",
            "append",
        ])
        .ok();
    assert!(again.contains("already held, nothing written"), "{again}");

    // datasets, schema, history.
    let ds = cli.run(&["datasets"]).json();
    assert_eq!(ds["count"], 2, "{ds}");
    let schema = cli.tty(&["schema", "big"]);
    for col in [
        "id",
        "BIGINT",
        "name",
        "VARCHAR",
        "score",
        "DOUBLE",
        "400000 rows",
    ] {
        assert!(schema.contains(col), "{col}: {schema}");
    }
    let hist = cli.run(&["history", "placements"]).json();
    assert_eq!(hist["snapshots"][0]["version"], 1, "{hist}");

    // sql in every format.
    let q = "SELECT id, name FROM big WHERE id < 3 ORDER BY id";
    let j = cli.run(&["sql", q]).json();
    assert_eq!(j["row_count"], 3);
    assert_eq!(j["rows"][2]["name"], "name-2");
    let c = cli.run(&["sql", q, "--format", "csv"]).ok();
    assert_eq!(
        c.lines().collect::<Vec<_>>(),
        ["id,name", "0,name-0", "1,name-1", "2,name-2"]
    );
    let nd = cli.run(&["sql", q, "--format", "ndjson"]).ok();
    assert_eq!(nd.lines().count(), 3, "{nd}");
    let arrow = dir.join("out.arrow");
    cli.run(&["sql", q, "-o", arrow.to_str().unwrap()]).ok();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::fs::File::open(&arrow).unwrap(), None)
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);
    let table = cli.tty(&["sql", q]);
    assert!(
        table.contains("name-1") && table.contains("(3 rows;"),
        "{table}"
    );
    let as_of = cli.run(&["sql", "SELECT count(*) AS n FROM big", "--as-of", "1"]);
    assert_eq!(
        as_of.code,
        1,
        "big did not exist at catalog version 1: {}",
        as_of.text()
    );
    // Parquet, written from the Arrow stream, then loaded as vectors with extra columns.
    let pq = dir.join("vectors.parquet");
    let vsql = "SELECT 'p' || i AS id, [i::FLOAT, 1.0, 0.0] AS vector, 'k' || (i % 2) AS kind FROM range(10) t(i)";
    cli.run(&["sql", vsql, "-o", pq.to_str().unwrap()]).ok();
    let loaded = cli
        .run(&[
            "vectors",
            "load",
            "pq",
            pq.to_str().unwrap(),
            "--create",
            "--batch",
            "4",
        ])
        .ok();
    assert!(loaded.contains("10 items added"), "{loaded}");
    let hits = cli
        .run(&[
            "vectors",
            "search",
            "pq",
            "--vector",
            "[9, 1, 0]",
            "-k",
            "3",
            "--filter",
            r#"{"kind":"k1"}"#,
        ])
        .json();
    let hits = hits["results"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter().all(|h| h["metadata"]["kind"] == "k1"),
        "{hits:?}"
    );
    // JSONL into an index made by `vectors create`.
    cli.run(&[
        "vectors",
        "create",
        "jl",
        "--dimension",
        "2",
        "--distance",
        "euclidean",
    ])
    .json();
    let jsonl = write(
        &dir,
        "items.jsonl",
        "{\"id\":\"a\",\"vector\":[0,0]}\n\n{\"id\":\"b\",\"vector\":[5,5],\"metadata\":{\"t\":1}}\n",
    );
    cli.run(&["vectors", "load", "jl", jsonl.to_str().unwrap()])
        .ok();
    let near = cli
        .run(&["vectors", "search", "jl", "--vector", "[4,4]", "-k", "1"])
        .json();
    assert_eq!(near["results"][0]["id"], "b");
    let bad = write(
        &dir,
        "bad.jsonl",
        "{\"id\":\"c\",\"vector\":[1,1]}\n{oops\n",
    );
    let r = cli.run(&["vectors", "load", "jl", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 2: not JSON"), "{}", r.stderr);
    let list = cli.tty(&["vectors", "list"]);
    assert!(
        list.contains("jl") && list.contains("pq") && list.contains("euclidean"),
        "{list}"
    );

    // storage: put, ls, get (file and pipe), rm.
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let src = dir.join("blob.bin");
    std::fs::write(&src, &blob).unwrap();
    cli.run(&["storage", "put", "cli/blob one.bin", src.to_str().unwrap()])
        .ok();
    let ls = cli.run(&["storage", "ls", "cli/"]).json();
    assert_eq!(ls["objects"][0]["key"], "cli/blob one.bin");
    assert_eq!(ls["objects"][0]["size"], 300_000);
    let back = dir.join("back.bin");
    cli.run(&[
        "storage",
        "get",
        "cli/blob one.bin",
        "-o",
        back.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read(&back).unwrap(), blob);
    assert_eq!(
        cli.run(&["storage", "get", "cli/blob one.bin"]).stdout,
        blob
    );
    cli.run(&["storage", "rm", "cli/blob one.bin"]).ok();
    assert_eq!(cli.run(&["storage", "ls", "cli/"]).json()["count"], 0);

    // jobs: a materializer run's receipt and a replay run's verdicts.
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../services/materializer/fixtures");
    let m = lakehouse_e2e::job(
        &f,
        "materializer",
        &[
            "run",
            "--input",
            fixtures.to_str().unwrap(),
            "--index",
            "evidence",
        ],
    )
    .await;
    let run_id = m.ok()["run_id"].as_str().unwrap().to_owned();
    let receipts = cli.run(&["jobs", "receipts"]).json();
    assert_eq!(
        receipts["receipts"][0]["run_id"],
        run_id.as_str(),
        "{receipts}"
    );
    assert_eq!(receipts["receipts"][0]["status"], "ok");
    assert!(receipts["receipts"][0]["materialized"].as_u64().unwrap() > 0);
    assert_eq!(
        cli.run(&["jobs", "receipt", &run_id]).json()["run_id"],
        run_id.as_str()
    );
    let runs = cli.run(&["jobs", "runs"]).json();
    assert_eq!(runs["row_count"], 0, "no replay yet: {runs}");
    let rep = lakehouse_e2e::job(&f, "replay", &["run", "--prompt", "Where is order 1182?"]).await;
    let rep_id = rep.ok()["run_id"].as_str().unwrap().to_owned();
    let runs = cli.run(&["jobs", "runs"]).json();
    assert_eq!(runs["rows"][0]["run_id"], rep_id.as_str(), "{runs}");
    assert_eq!(runs["rows"][0]["tasks"], 1);
    let tasks = cli.run(&["jobs", "run", &rep_id]).json();
    assert_eq!(tasks["row_count"], 1, "{tasks}");

    // Errors: the API's code and status, exit 1; misuse, exit 2; all as `error: …`.
    let r = cli.run(&["sql", "SELECT nope FROM big"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("(sql_error, HTTP 400)"),
        "{}",
        r.stderr
    );
    let r = cli.run(&["schema", "missing"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 404"), "{}", r.stderr);
    let r = cli.run(&["sql", q, "--format", "arrow", "--bogus"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cli.run(&["ingest"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cli.run(&["sql", q, "-o", dir.join("x.txt").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = ran(cli
        .command()
        .env("LAKEHOUSE_TOKEN", "wrong")
        .args(["datasets"])
        .output()
        .unwrap());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    let r = ran(cli
        .command()
        .env("LAKEHOUSE_URL", "http://127.0.0.1:1")
        .args(["datasets"])
        .output()
        .unwrap());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot reach the gateway"),
        "{}",
        r.stderr
    );
    let r = ran(cli
        .command()
        .env("LAKEHOUSE_URL", "localhost:3110")
        .args(["datasets"])
        .output()
        .unwrap());
    assert_eq!(r.code, 2, "{}", r.stderr);
    let (ok, tty_binary) = cli.tty_status(&["sql", q, "--format", "parquet"]);
    assert!(!ok && tty_binary.contains("is binary"), "{tty_binary}");

    // The CLI config file: URL and token file, no environment.
    let token_file = write(&dir, "token", &format!("{TOKEN}\n"));
    let conf = write(
        &dir,
        "cli.toml",
        &format!(
            "url = \"{}\"\ntoken_file = {:?}\n",
            f.url("gateway"),
            token_file.to_str().unwrap()
        ),
    );
    let r = ran(cli
        .command()
        .env_remove("LAKEHOUSE_URL")
        .env_remove("LAKEHOUSE_TOKEN")
        .args(["--cli-config", conf.to_str().unwrap(), "datasets"])
        .output()
        .unwrap());
    let through_env = cli.run(&["datasets"]).json();
    assert_eq!(r.json()["count"], through_env["count"]);
    assert!(through_env["count"].as_u64().unwrap() >= 2);

    // health names a service that is down, and exits 1.
    f.stop("vectord", false);
    let cli = Cli { fleet: &f };
    let r = cli.run(&["health"]);
    assert_eq!(r.code, 1, "{}", r.text());
    assert!(r.stderr.contains("not ready: vectord"), "{}", r.stderr);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["services"][5]["status"], "unreachable", "{v}");
}

#[test]
fn every_command_has_help_and_the_shells_get_completions() {
    let commands: &[&[&str]] = &[
        &[],
        &["sql"],
        &["ingest"],
        &["datasets"],
        &["schema"],
        &["history"],
        &["vectors"],
        &["vectors", "list"],
        &["vectors", "show"],
        &["vectors", "create"],
        &["vectors", "delete"],
        &["vectors", "search"],
        &["vectors", "load"],
        &["jobs"],
        &["jobs", "receipts"],
        &["jobs", "receipt"],
        &["jobs", "runs"],
        &["jobs", "run"],
        &["storage"],
        &["storage", "ls"],
        &["storage", "get"],
        &["storage", "put"],
        &["storage", "rm"],
        &["health"],
        &["probe"],
        &["validate"],
        &["completions"],
        &["backup"],
        &["restore"],
        &["verify"],
    ];
    for c in commands {
        let out = Command::new(bin("lakehouse"))
            .args(*c)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{c:?}");
        assert!(text.contains("Usage: lakehouse"), "{c:?}: {text}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(bin("lakehouse"))
            .args(["completions", shell])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("lakehouse") && text.contains("vectors"),
            "{shell}"
        );
    }
    let out = Command::new(bin("lakehouse"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

#[test]
fn validate_checks_an_answer_offline_with_replays_validators() {
    use std::io::Write;
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(bin("lakehouse"))
            .arg("validate")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let json = serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            json,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, v, _) = run(
        &["-v", "sms", "-v", "no_pii"],
        "Shift Fri 7pm, call 555-123-4567",
    );
    assert_eq!(
        (code, v["verdict"].as_str()),
        (Some(0), Some("pass")),
        "{v}"
    );
    let (code, v, err) = run(
        &[
            "-v",
            r#"{"fill":{"max_candidates":1}}"#,
            "--evidence-id",
            "w1",
        ],
        r#"{"candidates": ["w1", "w2"]}"#,
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        v["failures"],
        json!([
            {"validator": "fill", "reason": "candidate 'w2' is not in the retrieved evidence"},
            {"validator": "fill", "reason": "2 candidates, at most 1 asked for"},
        ]),
        "{v}"
    );
    assert!(err.contains("2 failure(s)"), "{err}");
    let (code, _, err) = run(&["-v", r#"{"sms":{"segments":2}}"#], "x");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("sms: unknown option 'segments'"), "{err}");
}
