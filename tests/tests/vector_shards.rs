//! vectord as two shards behind one gateway, on loopback: each instance owns the indexes its
//! shard of the name hash gives it, refuses the others with 421, and never loads or replays
//! them; the gateway routes by index name, creates where the name belongs and lists across
//! both; a shard killed with SIGKILL comes back with every acknowledged write, and while it
//! is down the fleet is not ready.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, Proc, SERVERS, Storage, free_port, spawn_with, wait_ready};
use lakehouse_types::shard::owner_of;
use serde_json::{Value, json};

const TOKEN: &str = "shards-token-5b8d2e4f6a1c3e7d";

fn items(range: std::ops::Range<u32>) -> Vec<Value> {
    range
        .map(|i| {
            let a = (i as f32).to_radians();
            json!({"id": format!("p{i}"), "vector": [a.cos(), a.sin(), 0.5]})
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_shard_owns_its_indexes_and_the_gateway_routes_to_the_owner() {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    let b_port = free_port();
    let (a_url, b_url) = (f.url("vectord"), format!("http://127.0.0.1:{b_port}"));
    let text = std::fs::read_to_string(&f.config).unwrap().replace(
        &format!("vectord_url = \"{a_url}\""),
        &format!("vectord_url = [\"{a_url}\", \"{b_url}\"]"),
    );
    std::fs::write(&f.config, format!("{text}shard = 0\nshards = 2\n")).unwrap();
    let second = f.dir.path().join("second.toml");
    let b_text = text.replace(
        &format!("bind = \"127.0.0.1:{}\"", f.port("vectord")),
        &format!("bind = \"127.0.0.1:{b_port}\""),
    );
    std::fs::write(&second, format!("{b_text}shard = 1\nshards = 2\n")).unwrap();
    f.start(&SERVERS);
    let dir = f.dir.path().to_path_buf();
    let start_b = || -> Proc {
        let p = spawn_with("vectord", &second, &dir, &[]);
        wait_ready(&b_url, Duration::from_secs(30));
        p
    };
    let mut b = start_b();
    let api = Api::new(&f.url("gateway"), TOKEN);

    // Names on both shards.
    let names: Vec<String> = (0..8).map(|i| format!("ix{i}")).collect();
    let on = |s: usize| names.iter().filter(move |n| owner_of(n, 2) == s).cloned();
    assert!(on(0).count() > 0 && on(1).count() > 0);
    for (i, n) in names.iter().enumerate() {
        let (st, v) = api
            .post("/vectors/index", &json!({"name": n, "dimension": 3}))
            .await;
        assert_eq!(st, 201, "{n}: {v}");
        let count = 10 + i as u32;
        let (st, v) = api
            .post(
                &format!("/vectors/index/{n}/add"),
                &json!({"items": items(0..count)}),
            )
            .await;
        assert!(st.is_success(), "{n}: {v}");
    }
    let (st, v) = api.get("/vectors/index").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"count": 8, "names": names}),
        "listed across both shards"
    );
    let (st, v) = api
        .post("/vectors/index", &json!({"name": "ix0", "dimension": 3}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("index_exists"))
    );

    // Each instance holds only its own, and turns the other's away with 421.
    let http = reqwest::Client::new();
    for (url, me) in [(&a_url, 0), (&b_url, 1)] {
        let v: Value = http
            .get(format!("{url}/vectors/index"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            v["names"],
            json!(on(me).collect::<Vec<_>>()),
            "shard {me}: {v}"
        );
        let other = on(1 - me).next().unwrap();
        for (method, path, body) in [
            ("GET", format!("/vectors/index/{other}"), None),
            (
                "POST",
                format!("/vectors/index/{other}/add"),
                Some(json!({"items": items(0..1)})),
            ),
            (
                "POST",
                "/vectors/index".to_owned(),
                Some(json!({"name": format!("{other}x{}", 1 - me), "dimension": 3})),
            ),
        ] {
            let mut req = http
                .request(method.parse().unwrap(), format!("{url}{path}"))
                .bearer_auth(TOKEN);
            if let Some(b) = &body {
                req = req.json(b);
            }
            let res = req.send().await.unwrap();
            let st = res.status();
            let v: Value = res.json().await.unwrap();
            // A create names its own index; it may hash to this shard: then it is made here.
            if path == "/vectors/index" && st == 201 {
                continue;
            }
            assert_eq!(st, 421, "shard {me} {method} {path}: {v}");
            assert_eq!(v["error"]["code"], "wrong_shard", "{v}");
        }
    }

    // SIGKILL shard 1 right after writes (its log not yet folded into snapshots): while it
    // is down its indexes answer 502, shard 0's still serve, and the fleet is not ready.
    let b_name = on(1).next().unwrap();
    let (st, v) = api
        .post(
            &format!("/vectors/index/{b_name}/add"),
            &json!({"items": items(500..520)}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let (st, _) = api
        .post(
            &format!("/vectors/index/{b_name}/search"),
            &json!({"vector": [1.0, 0.0, 0.5]}),
        )
        .await;
    assert_eq!(st, 502);
    let a_name = on(0).next().unwrap();
    let (st, v) = api
        .post(
            &format!("/vectors/index/{a_name}/search"),
            &json!({"vector": [1.0, 0.0, 0.5], "k": 3}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = api.get("/health").await;
    assert_eq!(
        (st.as_u16(), v["status"].as_str()),
        (503, Some("not_ready")),
        "{v}"
    );
    // Shard 0 restarted meanwhile loads only its own: nothing of shard 1's is replayed,
    // deleted or reported.
    f.restart("vectord", true);
    let (_, ready) = api.get("/health").await;
    let shard0 = ready["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "vectord" && s["instance"] == 0)
        .unwrap()
        .clone();
    assert_eq!(shard0["status"], "ready", "{shard0}");
    let _b = start_b();

    // Every acknowledged write is there, on both shards.
    for (i, n) in names.iter().enumerate() {
        let (st, v) = api.get(&format!("/vectors/index/{n}")).await;
        assert_eq!(st, 200, "{n}: {v}");
        let extra = if *n == b_name { 20 } else { 0 };
        assert_eq!(v["length"], 10 + i as u64 + extra, "{n}: {v}");
    }
    let (st, v) = api.get("/health").await;
    assert_eq!(
        (st.as_u16(), v["status"].as_str()),
        (200, Some("ready")),
        "{v}"
    );
}
