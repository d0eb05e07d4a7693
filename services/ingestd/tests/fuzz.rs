//! The CSV scanner on hostile bytes, fed in random chunk sizes: every input scans or is
//! refused with a message; never a panic or a hang. Chunking never changes the answer.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_ingestd::scan::Scanner;

fn scan(bytes: &[u8], delimiter: u8, header: bool, chunk: usize) -> Result<String, String> {
    let mut s = Scanner::new(delimiter, header);
    for part in bytes.chunks(chunk.max(1)) {
        s.feed(part).map_err(|e| e.0)?;
    }
    s.finish().map(|scan| format!("{scan:?}")).map_err(|e| e.0)
}

#[test]
fn hostile_csv_never_panics_and_chunking_never_matters() {
    let seeds: Vec<Vec<u8>> = [
        &b"id,name,score,day,at,ok\n1,ann,2.5,2024-01-01,2024-01-01 10:00:00,true\n2,\"b,\"\"q\"\"\",-3e2,2024-02-29,2024-02-29T23:59:59.123456Z,false\n"[..],
        b"a;b\n\xc3\xa9;\"multi\nline\"\n;\n",
        b"x\n\n\n1\n",
        b"\xef\xbb\xbfa,b\r\n1,2\r\n",
        b"a\tb\n1\t2\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let mut rng = lakehouse_fuzz::Rng::new(5);
    lakehouse_fuzz::run("csv", &seeds, Duration::from_secs(1), |b| {
        for (delimiter, header) in [(b',', true), (b';', false), (b'\t', true)] {
            let whole = scan(b, delimiter, header, b.len());
            let pieces = scan(b, delimiter, header, 1 + rng.below(7));
            assert_eq!(whole, pieces, "chunking changed the answer");
        }
    });
}

#[test]
fn hostile_multipart_bodies_are_refused_or_received() {
    use axum::extract::FromRequest;
    let boundary = "b0undary";
    let body = |csv: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        )
        .into_bytes()
    };
    let seeds = vec![
        body("id,v\n1,a\n2,b\n"),
        body("x\n\"q\"\"\"\n"),
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nz\r\n--{boundary}--\r\n").into_bytes(),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    lakehouse_fuzz::run("multipart", &seeds, Duration::from_secs(2), |b| {
        rt.block_on(async {
            let req = axum::http::Request::builder()
                .method("POST")
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(axum::body::Body::from(b.to_vec()))
                .unwrap();
            let Ok(mp) = axum::extract::Multipart::from_request(req, &()).await else {
                return;
            };
            let _ = lakehouse_ingestd::upload::receive(mp, dir.path(), b',', true, 1 << 20).await;
        });
    });
    // Whatever was refused left no temp file behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
