//! `deploy/compose.yaml`, its configs and `deploy/Dockerfile`. No container engine runs here,
//! so the compose CLI's own `config` command validates the file (and resolves its anchors and
//! variables), and the test checks every service, port, command line, healthcheck and config
//! key against the binaries: it starts the fleet from the resolved command lines (each service
//! in its own working directory, as in its volume, with the secret as a file) and runs
//! `scripts/smoke.sh` against it, on the fs config and on the S3 one (against the test S3
//! server instead of MinIO).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lakehouse_e2e::{Proc, bin, bin_dir, free_port};
use serde_json::Value;

const CONFIG_IN_CONTAINER: &str = "/etc/lakehouse/lakehouse.toml";
const SECRET_IN_CONTAINER: &str = "/run/secrets/lakehouse_token";
/// Start order and what each service must wait for (as the systemd units order them).
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

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// `docker-compose config`, as JSON (the CLI prints YAML; python3-yaml comes with it).
fn resolved(env: &[(&str, &str)], profile_s3: bool) -> Value {
    let mut cmd = Command::new("docker-compose");
    cmd.current_dir(deploy()).args(["-f", "compose.yaml"]);
    if profile_s3 {
        cmd.args(["--profile", "s3"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("config")
        .output()
        .expect("docker-compose (Debian's docker-compose package; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(py.stdin.as_mut().unwrap(), &out.stdout).unwrap();
    let json = py.wait_with_output().unwrap();
    assert!(json.status.success());
    serde_json::from_slice(&json.stdout).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// The config file a service mounts at /etc/lakehouse/lakehouse.toml.
fn mounted_config(svc: &Value) -> PathBuf {
    let mount = strings(&svc["volumes"])
        .into_iter()
        .find(|v| v.contains(CONFIG_IN_CONTAINER))
        .expect("the config is mounted");
    assert!(mount.ends_with(":ro"), "{mount}");
    PathBuf::from(mount.split(':').next().unwrap())
}

/// Checks one resolved compose file against the binaries and its config; the config text.
fn check(c: &Value) -> toml::Table {
    let services = c["services"].as_object().unwrap();
    let config_path = mounted_config(&services["storaged"]);
    let text = std::fs::read_to_string(&config_path).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let bind_port = |name: &str| port_of(config[name]["bind"].as_str().unwrap());
    for (name, after) in SERVICES {
        let s = &services[name];
        assert!(s.get("profiles").is_none(), "{name} must start by default");
        let command = strings(&s["command"]);
        assert_eq!(command, [name, "--config", CONFIG_IN_CONTAINER], "{name}");
        assert!(bin_dir().join(name).exists(), "{name} is not a binary");
        assert_eq!(
            mounted_config(s),
            config_path,
            "{name} mounts another config"
        );
        assert_eq!(s["user"], "10001:10001", "{name} runs as root");
        assert_eq!(s["read_only"], true, "{name}");
        assert_eq!(strings(&s["cap_drop"]), ["ALL"], "{name}");
        assert!(strings(&s["security_opt"]).contains(&"no-new-privileges:true".to_owned()));
        assert!(
            s["secrets"].to_string().contains("lakehouse_token"),
            "{name}"
        );
        assert!(
            strings(&s["volumes"])
                .iter()
                .any(|v| v.starts_with(&format!("{name}-state:/var/lib/lakehouse"))),
            "{name} has no state volume"
        );
        assert_eq!(s["working_dir"], "/var/lib/lakehouse");
        // The healthcheck is `lakehouse probe` on the service's own /ready and port.
        let port = bind_port(name);
        let probe = format!("http://127.0.0.1:{port}/ready");
        assert_eq!(
            strings(&s["healthcheck"]["test"]),
            ["CMD", "lakehouse", "probe", probe.as_str()],
            "{name}"
        );
        if name == "gateway" {
            // `config` spells the protocol out; the file leaves it to the default.
            let published: Vec<String> = strings(&s["ports"])
                .into_iter()
                .map(|p| p.trim_end_matches("/tcp").to_owned())
                .collect();
            assert_eq!(published, [format!("127.0.0.1:{port}:{port}")]);
        } else {
            assert_eq!(strings(&s["expose"]), [port.to_string()], "{name}");
            assert!(s.get("ports").is_none(), "{name} must not be published");
        }
        let deps: Vec<&String> = s["depends_on"]
            .as_object()
            .map(|d| d.keys().collect())
            .unwrap_or_default();
        assert_eq!(deps.len(), after.len(), "{name}: {deps:?}");
        for dep in after {
            assert_eq!(
                s["depends_on"][dep]["condition"], "service_healthy",
                "{name} does not wait for {dep}"
            );
        }
        // Every URL a service is given names another service by its compose name and port.
        if let Some(section) = config[name].as_table() {
            for (k, v) in section.iter().filter(|(k, _)| k.ends_with("_url")) {
                let target = k.trim_end_matches("_url");
                let want = format!("http://{target}:{}", bind_port(target));
                assert_eq!(v.as_str().unwrap(), want, "[{name}] {k}");
            }
        }
        assert!(
            config[name]["bind"]
                .as_str()
                .unwrap()
                .starts_with("0.0.0.0:")
        );
    }
    assert_eq!(
        config["auth"]["token_file"].as_str(),
        Some(SECRET_IN_CONTAINER)
    );
    assert!(c["secrets"]["lakehouse_token"]["file"].is_string());
    config
}

#[test]
fn the_compose_file_validates_and_matches_the_binaries_and_the_dockerfile() {
    let fs = resolved(&[], false);
    let config = check(&fs);
    assert_eq!(config["storaged"]["backend"].as_str(), Some("fs"));
    // The optional S3 server starts only with its profile, and the S3 config names it.
    let s3_env = [
        ("LAKEHOUSE_CONFIG", "./compose/lakehouse-s3.toml"),
        ("LAKEHOUSE_S3_SECRET_KEY", "test-secret"),
    ];
    let s3 = resolved(&s3_env, true);
    let s3_config = check(&s3);
    let services = s3["services"].as_object().unwrap();
    for extra in ["minio", "minio-bucket"] {
        assert_eq!(strings(&services[extra]["profiles"]), ["s3"], "{extra}");
    }
    let endpoint = s3_config["storaged"]["endpoint"].as_str().unwrap();
    assert_eq!(endpoint, "http://minio:9000");
    assert!(
        strings(&services["minio"]["ports"])
            .iter()
            .any(|p| p.trim_end_matches("/tcp").ends_with(":9000"))
    );
    let bucket = s3_config["storaged"]["bucket"].as_str().unwrap();
    assert!(
        services["minio-bucket"]["command"]
            .to_string()
            .contains(&format!("local/{bucket}")),
        "the bucket made is not the one storaged uses"
    );
    assert_eq!(
        services["storaged"]["environment"]["AWS_SECRET_ACCESS_KEY"],
        "test-secret"
    );
    assert_eq!(
        services["minio"]["environment"]["MINIO_ROOT_PASSWORD"],
        "test-secret"
    );

    // The image: built in one stage, run from a small one as the same unprivileged user,
    // holding every binary the compose file runs.
    let docker = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = docker.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].ends_with(" AS build") && froms[1].contains("-slim"));
    let user = docker.lines().rfind(|l| l.starts_with("USER ")).unwrap();
    assert_eq!(user, "USER 10001:10001");
    assert!(docker.contains("COPY --from=build"));
    // DuckDB's release library, fetched and verified by the project's script, lands in
    // ../lib of the binaries' directory, where their rpath looks.
    assert!(docker.contains("scripts/duckdb-lib.sh"));
    assert!(docker.contains("/usr/local/lib/libduckdb.so"));
    for (name, _) in SERVICES.iter().chain([("lakehouse", &[][..])].iter()) {
        assert!(
            docker.contains(&format!("target/release/{name} "))
                || docker.contains(&format!("target/release/{name}\n"))
                || docker.contains(&format!("target/release/{name} /out")),
            "the image lacks {name}"
        );
        assert!(bin_dir().join(name).exists());
    }
    let expose = docker.lines().find(|l| l.starts_with("EXPOSE ")).unwrap();
    for (name, _) in SERVICES {
        let port = port_of(config[name]["bind"].as_str().unwrap());
        assert!(
            expose.contains(&port.to_string()),
            "EXPOSE lacks {name}'s {port}"
        );
    }
}

/// Rewrites a compose config for this machine: binds and service URLs onto free loopback
/// ports, the volume paths and the secret into `dir`.
fn localize(text: &str, dir: &Path, token_file: &Path, ports: &BTreeMap<&str, u16>) -> String {
    let mut out = text.replace(SECRET_IN_CONTAINER, token_file.to_str().unwrap());
    let objects = dir.join("storaged/objects");
    out = out.replace("/var/lib/lakehouse/objects", objects.to_str().unwrap());
    let config: toml::Table = text.parse().unwrap();
    for (name, _) in SERVICES {
        let bind = config[name]["bind"].as_str().unwrap();
        let port = port_of(bind);
        out = out.replace(
            &format!("\"{bind}\""),
            &format!("\"127.0.0.1:{}\"", ports[name]),
        );
        out = out.replace(
            &format!("http://{name}:{port}"),
            &format!("http://127.0.0.1:{}", ports[name]),
        );
    }
    out
}

fn probe_until_ready(healthcheck: &[String], port: u16, new_port: u16) {
    assert_eq!(healthcheck[0], "CMD");
    let program = bin(&healthcheck[1]);
    let args: Vec<String> = healthcheck[2..]
        .iter()
        .map(|a| a.replace(&format!(":{port}/"), &format!(":{new_port}/")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Command::new(&program)
        .args(&args)
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "{args:?} never passed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts the six services from the resolved compose file and runs the smoke script.
fn run_compose_fleet(c: &Value, extra_config: &str) {
    let dir = tempfile::tempdir().unwrap();
    let token = "compose-secret-token-0123456789abcdef";
    let token_file = dir.path().join("lakehouse_token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let services = c["services"].as_object().unwrap();
    let source = std::fs::read_to_string(mounted_config(&services["storaged"])).unwrap();
    let ports: BTreeMap<&str, u16> = SERVICES.iter().map(|(n, _)| (*n, free_port())).collect();
    let config = dir.path().join("lakehouse.toml");
    let text = localize(&source, dir.path(), &token_file, &ports);
    std::fs::write(
        &config,
        text.replace("[storaged]\n", &format!("[storaged]\n{extra_config}")),
    )
    .unwrap();
    let parsed: toml::Table = source.parse().unwrap();
    let mut procs = Vec::new();
    for (name, _) in SERVICES {
        let s = &services[name];
        let command = strings(&s["command"]);
        let volume = dir.path().join(name);
        std::fs::create_dir_all(&volume).unwrap();
        let stdout = dir.path().join(format!("{name}.out"));
        let stderr = dir.path().join(format!("{name}.err"));
        let mut cmd = Command::new(bin(&command[0]));
        cmd.args(
            command[1..]
                .iter()
                .map(|a| a.replace(CONFIG_IN_CONTAINER, config.to_str().unwrap())),
        )
        .current_dir(&volume)
        .env_remove("LAKEHOUSE_AUTH_TOKEN")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
        if let Some(env) = s["environment"].as_object() {
            for (k, v) in env {
                cmd.env(k, v.as_str().unwrap_or_default());
            }
        }
        procs.push(Proc {
            child: cmd.spawn().unwrap(),
            stdout,
            stderr,
        });
        let port = port_of(parsed[name]["bind"].as_str().unwrap());
        probe_until_ready(&strings(&s["healthcheck"]["test"]), port, ports[name]);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/smoke.sh");
    let out = Command::new("sh")
        .arg(script)
        .arg(format!("http://127.0.0.1:{}", ports["gateway"]))
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
    // Each service kept its state in its own directory (its volume), storaged the objects.
    let audited: Vec<&str> = SERVICES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| dir.path().join(n).join("data/audit.jsonl").exists())
        .collect();
    assert!(
        !audited.is_empty(),
        "no service wrote its audit log in its volume"
    );
    drop(procs);
}

#[test]
fn the_fleet_started_from_the_compose_command_lines_passes_the_smoke_script() {
    let c = resolved(&[], false);
    run_compose_fleet(&c, "");
}

#[test]
fn the_s3_variant_started_from_the_compose_command_lines_passes_the_smoke_script() {
    let need = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: start the test S3 server (scripts/test.sh does)")
        })
    };
    let (key, secret) = (need("AWS_ACCESS_KEY_ID"), need("AWS_SECRET_ACCESS_KEY"));
    let env = [
        ("LAKEHOUSE_CONFIG", "./compose/lakehouse-s3.toml"),
        ("LAKEHOUSE_S3_ACCESS_KEY", key.as_str()),
        ("LAKEHOUSE_S3_SECRET_KEY", secret.as_str()),
    ];
    let c = resolved(&env, true);
    // MinIO is not run here: the test S3 server stands in for it, under a prefix of its own.
    let mut c = c;
    let s3_config = mounted_config(&c["services"]["storaged"]);
    let text = std::fs::read_to_string(&s3_config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("lakehouse-s3.toml");
    let bucket = need("LAKEHOUSE_TEST_S3_BUCKET");
    std::fs::write(
        &local,
        text.replace("http://minio:9000", &need("LAKEHOUSE_TEST_S3_ENDPOINT"))
            .replace("bucket = \"lakehouse\"", &format!("bucket = \"{bucket}\""))
            .replace(
                "region = \"us-east-1\"",
                &format!("region = \"{}\"", need("LAKEHOUSE_TEST_S3_REGION")),
            ),
    )
    .unwrap();
    for (name, _) in SERVICES {
        let vols = c["services"][name]["volumes"].as_array_mut().unwrap();
        for v in vols.iter_mut() {
            if v.as_str().unwrap().contains(CONFIG_IN_CONTAINER) {
                *v = Value::String(format!("{}:{CONFIG_IN_CONTAINER}:ro", local.display()));
            }
        }
    }
    let prefix = format!("prefix = \"compose-{}/\"\n", free_port());
    run_compose_fleet(&c, &prefix);
}
