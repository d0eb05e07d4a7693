//! Helpers for end-to-end tests: find the release binaries, write a config with free loopback
//! ports, start processes (killed when dropped) and wait for them to be ready.
//!
//! The binaries must be built first (`cargo build --release --bins`; `scripts/test.sh` does).

// Test support: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used)]

pub mod api;
pub mod crash;
pub mod fake_chat;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The services that serve HTTP, in start order.
pub const SERVERS: [&str; 6] = [
    "storaged", "catalogd", "ingestd", "queryd", "vectord", "gateway",
];

/// Directory holding the built binaries: `LAKEHOUSE_BIN_DIR`, else the profile directory this
/// test executable was built into.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("LAKEHOUSE_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Path of binary `name`, with a clear message when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: build the binaries first with `cargo build --release --bins` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// A free loopback port for a server a test starts (checked bindable, then released).
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::Mutex;
    // Below the kernel's ephemeral range, where every outgoing connection takes its local
    // port: a port picked there and released can be taken by any client's connection before
    // the server binds it (queryd and ingestd, which load DuckDB's library first, lost such
    // races). Ports handed out here are not handed out again by this process.
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (first, span) = (10_000u16, low.saturating_sub(10_000).max(1000));
    let seed = RandomState::new();
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    for attempt in 0u32.. {
        let candidate =
            first + (seed.hash_one((std::process::id(), attempt)) % u64::from(span)) as u16;
        if given.len() + 64 > usize::from(span) {
            given.clear();
        }
        if !given.contains(&candidate) && TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            given.insert(candidate);
            return candidate;
        }
    }
    unreachable!("the loop returns a port")
}

/// A running process, killed on drop; its stdout and stderr go to files in the fleet dir.
#[derive(Debug)]
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
}

impl Proc {
    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits up to `limit` for exit; the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("process did not exit within {limit:?}");
    }

    /// Everything it logged to stdout so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which storage backend a fleet's storaged uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A directory under the fleet's temp dir.
    Fs,
    /// The test S3 server named by `LAKEHOUSE_TEST_S3_*` (and the AWS variables).
    S3,
}

/// Ports and files of one fleet.
#[derive(Debug)]
pub struct Fleet {
    /// Working directory (config, data, logs).
    pub dir: tempfile::TempDir,
    /// Config file path.
    pub config: PathBuf,
    /// Port of each server, by name.
    pub ports: Vec<(&'static str, u16)>,
    /// Token, when auth is on.
    pub token: Option<String>,
    /// Running processes.
    pub procs: Vec<(&'static str, Proc)>,
}

impl Fleet {
    /// Writes a config with free ports (fs storage under the temp dir); `extra` is appended.
    pub fn new(token: Option<&str>, extra: &str) -> Self {
        Self::with(token, Storage::Fs, &[], extra)
    }

    /// As [`Fleet::new`], choosing the storage backend and adding `key = value` lines to
    /// sections (`("ingestd", "max_upload_bytes = 10")`).
    pub fn with(
        token: Option<&str>,
        storage: Storage,
        sections: &[(&str, &str)],
        extra: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(&'static str, u16)> = SERVERS.iter().map(|s| (*s, free_port())).collect();
        let port = |n: &str| ports.iter().find(|(s, _)| *s == n).unwrap().1;
        let url = |n: &str| format!("http://127.0.0.1:{}", port(n));
        let more = |section: &str| {
            sections
                .iter()
                .filter(|(s, _)| *s == section)
                .map(|(_, l)| format!("{l}\n"))
                .collect::<String>()
        };
        let backend = match storage {
            Storage::Fs => format!(
                "root = {:?}\n",
                dir.path().join("objects").to_str().unwrap()
            ),
            Storage::S3 => {
                let need = |k: &str| {
                    std::env::var(k).unwrap_or_else(|_| {
                        panic!("{k} is not set: start the test S3 server with `eval \"$(scripts/s3-server.sh start)\"` (scripts/test.sh does)")
                    })
                };
                // Each fleet under its own prefix: tests share the bucket, never state.
                let prefix = dir
                    .path()
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("fleet")
                    .trim_start_matches('.')
                    .to_owned();
                format!(
                    "backend = \"s3\"\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\nprefix = \"{prefix}/\"\npath_style = true\n",
                    need("LAKEHOUSE_TEST_S3_ENDPOINT"),
                    need("LAKEHOUSE_TEST_S3_REGION"),
                    need("LAKEHOUSE_TEST_S3_BUCKET")
                )
            }
        };
        let text = format!(
            "[common]\nshutdown_grace_ms = 10000\n{common}\
             [auth]\ntoken = \"{tok}\"\n\
             [gateway]\nbind = \"127.0.0.1:{gw}\"\nstoraged_url = \"{st}\"\ncatalogd_url = \"{ca}\"\ningestd_url = \"{ing}\"\nqueryd_url = \"{q}\"\nvectord_url = \"{v}\"\n{gwx}\
             [storaged]\nbind = \"127.0.0.1:{stp}\"\n{backend}{stx}\
             [catalogd]\nbind = \"127.0.0.1:{cap}\"\nstoraged_url = \"{st}\"\n{cax}\
             [ingestd]\nbind = \"127.0.0.1:{ingp}\"\nstoraged_url = \"{st}\"\ncatalogd_url = \"{ca}\"\ntmp_dir = {tmp:?}\n{ingx}\
             [queryd]\nbind = \"127.0.0.1:{qp}\"\nstoraged_url = \"{st}\"\ncatalogd_url = \"{ca}\"\nvectord_url = \"{v}\"\ncache_dir = {cache:?}\n{qx}\
             [vectord]\nbind = \"127.0.0.1:{vp}\"\nstoraged_url = \"{st}\"\ncatalogd_url = \"{ca}\"\n{extra}",
            common = more("common"),
            tok = token.unwrap_or(""),
            gw = port("gateway"),
            st = url("storaged"),
            ca = url("catalogd"),
            ing = url("ingestd"),
            q = url("queryd"),
            v = url("vectord"),
            gwx = more("gateway"),
            stp = port("storaged"),
            stx = more("storaged"),
            cap = port("catalogd"),
            cax = more("catalogd"),
            ingp = port("ingestd"),
            ingx = more("ingestd"),
            qp = port("queryd"),
            qx = more("queryd"),
            vp = port("vectord"),
            tmp = dir.path().join("ingest-tmp").to_str().unwrap(),
            cache = dir.path().join("cache").to_str().unwrap(),
        );
        let config = dir.path().join("lakehouse.toml");
        std::fs::write(&config, text).unwrap();
        Self {
            dir,
            config,
            ports,
            token: token.map(str::to_owned),
            procs: Vec::new(),
        }
    }

    /// Port of server `name`.
    pub fn port(&self, name: &str) -> u16 {
        self.ports.iter().find(|(s, _)| *s == name).unwrap().1
    }

    /// Base URL of server `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.port(name))
    }

    /// The value of `sample` (its whole name, labels included: `x{index="a"}`) in
    /// `service`'s `/metrics`, read with `token`; `None` when it is not there.
    pub async fn metric(&self, service: &str, token: &str, sample: &str) -> Option<f64> {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.url(service)))
            .bearer_auth(token)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let prefix = format!("{sample} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
    }

    /// Starts binary `name` with this fleet's config.
    pub fn spawn(&self, name: &str) -> Proc {
        spawn_with(name, &self.config, self.dir.path(), &[])
    }

    /// Starts `names` and waits until each answers `/ready` with 200.
    ///
    /// Ports are picked free when the config is written and bound only now, so a test running
    /// alongside may have taken one since (then our process exits, and its `/ready` answers
    /// for us). Each process is therefore checked to be alive once all are ready; if one is
    /// not, those started here are stopped, given fresh ports and started again.
    pub fn start(&mut self, names: &[&'static str]) {
        for attempt in 0..5 {
            for n in names {
                let p = self.spawn(n);
                self.procs.retain(|(m, _)| m != n);
                self.procs.push((n, p));
            }
            let mut all_alive = true;
            for n in names {
                all_alive &= self.wait_started(n, Duration::from_secs(20));
            }
            if all_alive {
                return;
            }
            eprintln!("fleet: a port was taken before it was bound (attempt {attempt}); new ports");
            for n in names {
                let p = self.proc(n);
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
            self.procs.retain(|(m, _)| !names.contains(m));
            self.new_ports(names);
        }
        panic!("could not start {names:?} on free ports");
    }

    /// Waits until server `name` answers `/ready` with 200 while its own process lives;
    /// false when the process exited.
    fn wait_started(&mut self, name: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let url = format!("{}/ready", self.url(name));
        loop {
            if let Some(status) = self.proc(name).child.try_wait().unwrap() {
                eprintln!(
                    "fleet: {name} exited at start ({status}): {}",
                    self.stderr_tail(name)
                );
                return false;
            }
            if raw_http::status_of(&url) == Some(200) {
                // Exited right after answering: the answer was someone else's.
                std::thread::sleep(Duration::from_millis(20));
                return self.proc(name).child.try_wait().unwrap().is_none();
            }
            assert!(
                Instant::now() < deadline,
                "{name} at {url} not ready within {limit:?}: {}",
                self.stderr_tail(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines `name` wrote to stderr, to say why it did not start.
    fn stderr_tail(&mut self, name: &str) -> String {
        let text = std::fs::read_to_string(&self.proc(name).stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Gives `names` fresh ports, in the config file too.
    fn new_ports(&mut self, names: &[&'static str]) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        for (n, port) in &mut self.ports {
            if names.contains(n) {
                let fresh = free_port();
                text = text.replace(
                    &format!("127.0.0.1:{port}\""),
                    &format!("127.0.0.1:{fresh}\""),
                );
                *port = fresh;
            }
        }
        std::fs::write(&self.config, text).unwrap();
    }

    /// Stops every running server with SIGTERM (each must exit cleanly), then starts them
    /// all again on the same ports and data.
    pub fn restart_all(&mut self) {
        let names: Vec<&'static str> = self.procs.iter().map(|(n, _)| *n).collect();
        for (_, p) in &mut self.procs {
            p.terminate();
        }
        for (n, p) in &mut self.procs {
            assert_eq!(
                p.wait_exit(Duration::from_secs(20)),
                Some(0),
                "{n} did not exit cleanly"
            );
        }
        self.procs.clear();
        self.start(&names);
    }

    /// Appends `text` (whole sections) to the config file; call before starting anything.
    pub fn append_config(&self, text: &str) {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&self.config)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    /// `[materializer]` and `[replay]` sections pointing at this fleet's gateway, with their
    /// scratch directories inside the fleet's, plus extra lines for each section.
    pub fn jobs_config(&self, materializer: &str, replay: &str) -> String {
        let tmp = self.dir.path().join("jobs-tmp");
        format!(
            "[materializer]\ngateway_url = \"{gw}\"\ntmp_dir = {m:?}\n{materializer}\
             [replay]\ngateway_url = \"{gw}\"\ntmp_dir = {r:?}\n{replay}",
            gw = self.url("gateway"),
            m = tmp.join("m").to_str().unwrap(),
            r = tmp.join("r").to_str().unwrap(),
        )
    }

    /// Stops server `name` (SIGKILL with `kill`, else SIGTERM, which must exit cleanly),
    /// starts it again on the same port and data, and waits until it is ready.
    pub fn restart(&mut self, name: &'static str, kill: bool) {
        self.stop(name, kill);
        self.respawn(name);
        wait_ready(&self.url(name), Duration::from_secs(60));
    }

    /// Stops server `name`: SIGKILL with `kill`, else SIGTERM, which must exit cleanly.
    pub fn stop(&mut self, name: &str, kill: bool) {
        let p = self.proc(name);
        if kill {
            p.child.kill().unwrap();
            p.child.wait().unwrap();
        } else {
            p.terminate();
            assert_eq!(
                p.wait_exit(Duration::from_secs(60)),
                Some(0),
                "{name} did not exit cleanly"
            );
        }
    }

    /// Starts server `name` again (after [`Fleet::stop`]), without waiting for it.
    pub fn respawn(&mut self, name: &'static str) {
        let p = self.spawn(name);
        self.procs.retain(|(n, _)| *n != name);
        self.procs.push((name, p));
    }

    /// The process of server `name`.
    pub fn proc(&mut self, name: &str) -> &mut Proc {
        &mut self.procs.iter_mut().find(|(n, _)| *n == name).unwrap().1
    }
}

/// Starts binary `name` with `--config config` in `cwd`, with extra environment variables.
pub fn spawn_with(name: &str, config: &Path, cwd: &Path, env: &[(&str, &str)]) -> Proc {
    let stdout = cwd.join(format!("{name}-{}.out", free_port()));
    let stderr = stdout.with_extension("err");
    let mut cmd = Command::new(bin(name));
    cmd.arg("--config")
        .arg(config)
        .current_dir(cwd)
        .env_remove("LAKEHOUSE_AUTH_TOKEN")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc {
        child: cmd.spawn().unwrap(),
        stdout,
        stderr,
    }
}

/// Polls `base/ready` until 200, panicking after `limit`.
pub fn wait_ready(base: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    let client = raw_http::status_of;
    loop {
        if client(&format!("{base}/ready")) == Some(200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base} not ready within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Minimal blocking GET (status only) without pulling reqwest's blocking feature.
mod raw_http {
    pub(crate) fn status_of(url: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut s = std::net::TcpStream::connect(host).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).ok()?;
        std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
    }
}

/// What a batch job printed and how it ended.
#[derive(Debug)]
pub struct JobRun {
    /// Exit status.
    pub code: Option<i32>,
    /// stdout as JSON (`Null` when it is not).
    pub json: serde_json::Value,
    /// stdout as text.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl JobRun {
    /// The JSON answer of a run that must have exited 0.
    pub fn ok(&self) -> &serde_json::Value {
        assert_eq!(
            self.code,
            Some(0),
            "stdout {}\nstderr {}",
            self.stdout,
            self.stderr
        );
        &self.json
    }
}

/// Runs batch binary `name` (materializer, replay) with `args` against `fleet`'s config, in
/// its directory, stdout captured (so the job answers in JSON).
pub async fn job(fleet: &Fleet, name: &str, args: &[&str]) -> JobRun {
    let out = tokio::process::Command::new(bin(name))
        .arg("--config")
        .arg(&fleet.config)
        .args(args)
        .current_dir(fleet.dir.path())
        .env_remove("LAKEHOUSE_AUTH_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    JobRun {
        code: out.status.code(),
        json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
