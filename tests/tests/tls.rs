//! The whole fleet over TLS with a CA and certificates this test makes (openssl): every
//! service listens with TLS, every internal call verifies its upstream against the fleet's CA,
//! a client without the CA is refused, and SIGHUP swaps the certificate without a restart
//! (a broken pair on reload keeps the old one).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lakehouse_e2e::api::multipart;
use lakehouse_e2e::{Fleet, SERVERS};
use serde_json::{Value, json};

const TOKEN: &str = "tls-fleet-token";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed to make the test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate for 127.0.0.1 it signs, named `<name>.pem` / `<name>.key`.
fn make_ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=lakehouse test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn make_server_cert(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

fn https_client(ca: Option<&Path>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .tls_info(true);
    if let Some(ca) = ca {
        b = b.add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap(),
        );
    }
    b.build().unwrap()
}

async fn wait_ready(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{url}/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} not ready over TLS");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The DER of the certificate the server at `url` presents.
async fn served_cert(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let res = client.get(format!("{url}/health")).send().await.unwrap();
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .unwrap()
        .to_vec()
}

fn der_of(pem_path: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["x509", "-in", pem_path.to_str().unwrap(), "-outform", "DER"])
        .output()
        .unwrap();
    out.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_over_tls_with_reload() {
    let mut f = Fleet::with(Some(TOKEN), lakehouse_e2e::Storage::Fs, &[], "");
    let dir = f.dir.path().to_path_buf();
    make_ca(&dir);
    make_server_cert(&dir, "one");
    // Every service listens with TLS and every URL between them is https.
    let text = std::fs::read_to_string(&f.config)
        .unwrap()
        .replace("http://127.0.0.1", "https://127.0.0.1");
    let common = format!(
        "[common]\ntls_cert = {:?}\ntls_key = {:?}\ntls_ca = {:?}\n",
        dir.join("one.pem").to_str().unwrap(),
        dir.join("one.key").to_str().unwrap(),
        dir.join("ca.pem").to_str().unwrap()
    );
    std::fs::write(&f.config, text.replacen("[common]\n", &common, 1)).unwrap();
    for n in SERVERS {
        let p = f.spawn(n);
        f.procs.push((n, p));
    }
    let ca_client = https_client(Some(&dir.join("ca.pem")));
    let url = |f: &Fleet, n: &str| format!("https://127.0.0.1:{}", f.port(n));
    for n in SERVERS {
        wait_ready(&ca_client, &url(&f, n)).await;
    }
    let gw = url(&f, "gateway");

    // Ingest, SQL, storage and vectors: every hop behind the gateway verified over TLS.
    let (ct, body) = multipart("file", b"id,v\n1,a\n2,b\n");
    let res = ca_client
        .post(format!("{gw}/v1/ingest?name=t"))
        .bearer_auth(TOKEN)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v: Value = ca_client
        .post(format!("{gw}/v1/sql"))
        .bearer_auth(TOKEN)
        .json(&json!({"sql": "SELECT count(*) AS n FROM t"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["rows"], json!([{"n": 2}]), "{v}");
    let res = ca_client
        .post(format!("{gw}/v1/vectors/index"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "v", "dimension": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = ca_client
        .get(format!("{gw}/v1/storage/list?prefix=datasets/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Without the CA the certificate is not trusted; plain http is not served.
    assert!(
        https_client(None)
            .get(format!("{gw}/health"))
            .send()
            .await
            .is_err()
    );
    let plain = format!("http://127.0.0.1:{}/health", f.port("gateway"));
    assert!(
        reqwest::get(plain)
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
    );

    // SIGHUP: a new certificate is served on new connections, without a restart.
    assert_eq!(
        served_cert(&https_client(Some(&dir.join("ca.pem"))), &gw).await,
        der_of(&dir.join("one.pem"))
    );
    make_server_cert(&dir, "two");
    std::fs::copy(dir.join("two.pem"), dir.join("one.pem")).unwrap();
    std::fs::copy(dir.join("two.key"), dir.join("one.key")).unwrap();
    let pid = f.proc("gateway").child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let want = der_of(&dir.join("two.pem"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_cert(&https_client(Some(&dir.join("ca.pem"))), &gw).await != want {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not load the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A broken pair on reload is refused and the last good one keeps serving.
    std::fs::write(dir.join("one.key"), "not a key").unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        served_cert(&https_client(Some(&dir.join("ca.pem"))), &gw).await,
        want
    );
    assert!(
        f.proc("gateway").child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the gateway"
    );
    assert!(f.proc("gateway").logs().contains("TLS reload failed"));
}
