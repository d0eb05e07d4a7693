//! The systemd units in `deploy/systemd/`: `systemd-analyze verify` passes on every one, each
//! service is hardened and ordered after what it needs, keeps its secrets out of the unit, and
//! the fleet started from the units' own `ExecStart` lines (with the unit's working directory
//! and environment file) passes `scripts/smoke.sh`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lakehouse_e2e::{Fleet, Proc, bin_dir, wait_ready};

const INSTALLED_BIN: &str = "/opt/lakehouse/bin";
const INSTALLED_CONFIG: &str = "/etc/lakehouse/lakehouse.toml";
/// Start order, and what each service must be ordered after.
const SERVICES: [(&str, &[&str]); 6] = [
    ("storaged", &[]),
    ("catalogd", &["storaged"]),
    ("ingestd", &["storaged", "catalogd"]),
    ("queryd", &["storaged", "catalogd"]),
    ("vectord", &["storaged", "catalogd"]),
    (
        "gateway",
        &["storaged", "catalogd", "ingestd", "queryd", "vectord"],
    ),
];

fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd")
}

/// `key → values` of a unit file (a key may repeat).
fn parse(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with('[') || line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=').unwrap();
        out.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    out
}

fn unit(name: &str) -> (String, BTreeMap<String, Vec<String>>) {
    let text =
        std::fs::read_to_string(units_dir().join(format!("lakehouse-{name}.service"))).unwrap();
    let keys = parse(&text);
    (text, keys)
}

fn one<'a>(keys: &'a BTreeMap<String, Vec<String>>, k: &str) -> &'a str {
    keys.get(k)
        .and_then(|v| v.last())
        .map_or("", String::as_str)
}

#[test]
fn every_unit_verifies_and_every_service_is_hardened_and_ordered() {
    // Verified as shipped but for where the binaries are: systemd-analyze checks that
    // ExecStart names an executable.
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(units_dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if !(name.ends_with(".service") || name.ends_with(".target")) {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let out = dir.path().join(&name);
        std::fs::write(
            &out,
            text.replace(INSTALLED_BIN, bin_dir().to_str().unwrap()),
        )
        .unwrap();
        files.push(out);
    }
    assert_eq!(files.len(), SERVICES.len() + 1, "{files:?}");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .expect("systemd-analyze (Debian's systemd package; scripts/test.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("lakehouse"), "verify warned: {stderr}");

    let target = parse(&std::fs::read_to_string(units_dir().join("lakehouse.target")).unwrap());
    for (name, after) in SERVICES {
        let (text, keys) = unit(name);
        for (k, want) in [
            ("DynamicUser", "yes"),
            ("ProtectSystem", "strict"),
            ("ReadWritePaths", "/var/lib/lakehouse"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"),
            ("Restart", "on-failure"),
            ("PartOf", "lakehouse.target"),
            ("WantedBy", "lakehouse.target"),
        ] {
            assert_eq!(one(&keys, k), want, "{name}: {k}");
        }
        for k in ["LimitNOFILE", "MemoryMax", "TasksMax", "EnvironmentFile"] {
            assert!(!one(&keys, k).is_empty(), "{name}: no {k}");
        }
        // Secrets live in the environment file, never in the unit.
        for secret in [
            "LAKEHOUSE_AUTH_TOKEN=",
            "AWS_SECRET_ACCESS_KEY=",
            "Environment=",
        ] {
            assert!(!text.contains(secret), "{name} holds {secret}");
        }
        let ordered: Vec<&str> = one(&keys, "After").split_whitespace().collect();
        for dep in after {
            let dep_unit = format!("lakehouse-{dep}.service");
            assert!(
                ordered.contains(&dep_unit.as_str()),
                "{name} is not after {dep}"
            );
        }
        assert!(
            one(&target, "Wants").contains(&format!("lakehouse-{name}.service")),
            "the target does not want {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_started_from_the_units_passes_the_smoke_script() {
    // The fleet's config, with no token in it: the token comes from the environment file,
    // as the units read it.
    let f = Fleet::new(None, "");
    let token = "systemd-env-file-token-0123456789abcdef";
    let env_file = f.dir.path().join("lakehouse.env");
    std::fs::write(
        &env_file,
        format!("# as /etc/lakehouse/lakehouse.env\nLAKEHOUSE_AUTH_TOKEN={token}\n"),
    )
    .unwrap();
    let mut procs: Vec<Proc> = Vec::new();
    for (name, _) in SERVICES {
        let (_, keys) = unit(name);
        let exec = one(&keys, "ExecStart")
            .replace(INSTALLED_BIN, bin_dir().to_str().unwrap())
            .replace(INSTALLED_CONFIG, f.config.to_str().unwrap());
        let mut words = exec.split_whitespace();
        let program = words.next().unwrap();
        assert!(Path::new(program).exists(), "{name}: {program}");
        assert_eq!(
            one(&keys, "EnvironmentFile").trim_start_matches('-'),
            "/etc/lakehouse/lakehouse.env"
        );
        let stdout = f.dir.path().join(format!("{name}.systemd.out"));
        let stderr = stdout.with_extension("err");
        let mut cmd = Command::new(program);
        cmd.args(words)
            .current_dir(f.dir.path())
            .env_remove("LAKEHOUSE_AUTH_TOKEN")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for line in std::fs::read_to_string(&env_file).unwrap().lines() {
            if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                cmd.env(k, v);
            }
        }
        procs.push(Proc {
            child: cmd.spawn().unwrap(),
            stdout,
            stderr,
        });
        wait_ready(&f.url(name), Duration::from_secs(60));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/smoke.sh");
    let out = Command::new("sh")
        .arg(script)
        .arg(f.url("gateway"))
        .arg(token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    drop(procs);
}

/// queryd and ingestd link DuckDB's release library. Installed as the README says (`bin/`
/// beside `lib/`), they load it from there through their rpath, with no environment set.
#[test]
fn installed_duckdb_binaries_load_the_library_beside_them() {
    let readme = std::fs::read_to_string(units_dir().join("README.md")).unwrap();
    assert!(
        readme.contains("libduckdb.so /opt/lakehouse/lib/"),
        "the install steps do not ship DuckDB's library"
    );
    let root = tempfile::tempdir().unwrap();
    let (bin, lib) = (root.path().join("bin"), root.path().join("lib"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.duckdb/lib/libduckdb.so");
    std::fs::copy(shipped, lib.join("libduckdb.so")).unwrap();
    for name in ["queryd", "ingestd"] {
        std::fs::copy(bin_dir().join(name), bin.join(name)).unwrap();
        let ldd = Command::new("ldd").arg(bin.join(name)).output().unwrap();
        let resolved = String::from_utf8_lossy(&ldd.stdout);
        let line = resolved
            .lines()
            .find(|l| l.contains("libduckdb.so"))
            .unwrap_or_else(|| panic!("{name} does not link libduckdb.so: {resolved}"));
        let loaded = line
            .split("=> ")
            .nth(1)
            .and_then(|p| p.split(" (").next())
            .and_then(|p| std::fs::canonicalize(p.trim()).ok());
        assert_eq!(
            loaded,
            std::fs::canonicalize(lib.join("libduckdb.so")).ok(),
            "{name} loads DuckDB from elsewhere: {line}"
        );
        let help = Command::new(bin.join(name))
            .arg("--help")
            .env_clear()
            .output()
            .unwrap();
        assert!(help.status.success(), "{name} --help: {help:?}");
    }
}
