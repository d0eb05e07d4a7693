//! Retrieval through the gateway beyond one plain search: the repeat cache answers a search
//! asked again of the same index state from memory, and never once a write has changed what
//! the answer would be (an add, a delete, new metadata, the index dropped and made again),
//! whether read live or as of a committed version; keyword (BM25) and hybrid searches over an
//! index's text field, with their filters, weights, refusals and restarts.

#![allow(clippy::unwrap_used)]

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage};
use serde_json::{Value, json};

const TOKEN: &str = "vector-retrieval-token";

fn at(deg: f32) -> Value {
    let a = deg.to_radians();
    json!([a.cos(), a.sin(), 0.5])
}

fn circle(range: std::ops::Range<u32>) -> Vec<Value> {
    range
        .map(|i| json!({"id": format!("p{i}"), "vector": at(i as f32), "metadata": {"i": i}}))
        .collect()
}

async fn ok(api: &Api, path: &str, body: Value) -> Value {
    let (st, v) = api.post(path, &body).await;
    assert!(st.is_success(), "{path} {body} → {st} {v}");
    v
}

fn ids(v: &Value) -> Vec<&str> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// The repeat cache's (hits, misses) from vectord's `/metrics`.
async fn cache_counts(f: &Fleet) -> (u64, u64) {
    let read = async |name: &str| {
        let sample = format!("lakehouse_vector_search_cache_{name}_total");
        f.metric("vectord", TOKEN, &sample)
            .await
            .unwrap_or_else(|| panic!("no {sample}")) as u64
    };
    (read("hits").await, read("misses").await)
}

/// Searches twice with the same body: the second answer is the first, from the cache.
async fn twice(f: &Fleet, api: &Api, body: Value) -> Value {
    let path = "/vectors/index/c/search";
    let (h0, m0) = cache_counts(f).await;
    let first = ok(api, path, body.clone()).await;
    let second = ok(api, path, body.clone()).await;
    assert_eq!(first, second, "{body}");
    assert_eq!(cache_counts(f).await, (h0 + 1, m0 + 1), "{body}");
    first
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_searches_come_from_the_cache_and_every_write_is_seen() {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    ok(&api, "/vectors/index", json!({"name": "c", "dimension": 3})).await;
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": circle(0..60)}),
    )
    .await;

    let q = json!({"vector": at(10.2), "k": 3});
    let r = twice(&f, &api, q.clone()).await;
    assert_eq!(ids(&r), ["p10", "p11", "p9"], "{r}");

    // An add between two identical searches is in the second.
    let add = json!({"items": [{"id": "new", "vector": at(10.2), "metadata": {"i": -1}}]});
    ok(&api, "/vectors/index/c/add", add).await;
    let r = twice(&f, &api, q.clone()).await;
    assert_eq!(ids(&r), ["new", "p10", "p11"], "after an add: {r}");

    // So is new metadata for an item already there, and a delete.
    let relabel = json!({"items": [{"id": "new", "vector": at(10.2), "metadata": {"i": -2}}]});
    ok(&api, "/vectors/index/c/add", relabel).await;
    let r = twice(&f, &api, q.clone()).await;
    assert_eq!(
        r["results"][0]["metadata"]["i"], -2,
        "after new metadata: {r}"
    );
    ok(&api, "/vectors/index/c/delete", json!({"ids": ["new"]})).await;
    let r = twice(&f, &api, q.clone()).await;
    assert_eq!(ids(&r), ["p10", "p11", "p9"], "after a delete: {r}");

    // Exclusions, filters, k and ef are part of what is asked: none is served another's answer.
    let excluded = twice(
        &f,
        &api,
        json!({"vector": at(10.2), "k": 3, "exclude_ids": ["p10"]}),
    )
    .await;
    assert_eq!(ids(&excluded), ["p11", "p9", "p12"], "{excluded}");
    let filtered = twice(
        &f,
        &api,
        json!({"vector": at(10.2), "k": 3, "filter": {"i": 30}}),
    )
    .await;
    assert_eq!(ids(&filtered), ["p30"], "{filtered}");
    let wider = twice(&f, &api, json!({"vector": at(10.2), "k": 4, "ef": 50})).await;
    assert_eq!(ids(&wider), ["p10", "p11", "p9", "p12"], "{wider}");

    // As of a committed version the answer stays that version's, writes or not; the live
    // answer moves on.
    let c = ok(&api, "/vectors/index/c/commit", json!({})).await;
    let v1 = c["version"].as_u64().unwrap();
    let pinned = json!({"vector": at(10.2), "k": 3, "as_of": v1});
    // The live index holds exactly that commit: the live answer cached above serves it.
    let before = cache_counts(&f).await;
    let r = ok(&api, "/vectors/index/c/search", pinned.clone()).await;
    assert_eq!(
        (ids(&r), r["catalog_version"].as_u64()),
        (vec!["p10", "p11", "p9"], Some(v1))
    );
    assert_eq!(cache_counts(&f).await, (before.0 + 1, before.1), "{r}");
    let add = json!({"items": [{"id": "later", "vector": at(10.2)}]});
    ok(&api, "/vectors/index/c/add", add).await;
    let r = twice(&f, &api, pinned).await;
    assert_eq!(ids(&r), ["p10", "p11", "p9"], "as of v1 after a write: {r}");
    let r = twice(&f, &api, q.clone()).await;
    assert_eq!(ids(&r)[0], "later", "live after a write: {r}");

    // An index dropped and made again under the same name is another index.
    let (st, v) = api.delete("/vectors/index/c").await;
    assert!(st.is_success(), "{v}");
    ok(&api, "/vectors/index", json!({"name": "c", "dimension": 3})).await;
    ok(
        &api,
        "/vectors/index/c/add",
        json!({"items": circle(100..110)}),
    )
    .await;
    let r = twice(&f, &api, q).await;
    assert_eq!(
        ids(&r),
        ["p100", "p101", "p102"],
        "a new index of the same name: {r}"
    );
}

fn results(v: &Value) -> Vec<(&str, Option<f64>, Option<f64>)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["distance"].as_f64(),
                r["score"].as_f64(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_and_hybrid_search_over_a_text_field_survive_restarts() {
    let mut f = Fleet::with(Some(TOKEN), Storage::Fs, &[], "save_delay_ms = 50\n");
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);
    let created = ok(
        &api,
        "/vectors/index",
        json!({"name": "docs", "dimension": 3, "text_field": "body"}),
    )
    .await;
    assert_eq!(created["text_field"], "body", "{created}");
    let texts = [
        "refund for a cracked screen",
        "order shipped on time",
        "card declined at checkout",
        "screen protector arrived cracked",
        "late delivery apology",
    ];
    let items: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": format!("d{i}"), "vector": at(i as f32 * 30.0), "metadata": {"body": t, "lang": if i % 2 == 0 { "en" } else { "de" }}}))
        .collect();
    ok(&api, "/vectors/index/docs/add", json!({"items": items})).await;
    let search = |body: Value| {
        let api = &api;
        async move { ok(api, "/vectors/index/docs/search", body).await }
    };

    // Keywords alone: BM25 order, no distance.
    let r = search(json!({"text": "cracked screen", "k": 5})).await;
    let got = results(&r);
    // Both hold both words; the shorter record ("a" and "for" are stop words) scores higher.
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        ["d0", "d3"],
        "{r}"
    );
    assert!(
        got.iter().all(|g| g.1.is_none() && g.2.unwrap() > 0.0),
        "{r}"
    );
    // Both: the fused ranking, each with its true distance; d4 is nearest the vector.
    let r = search(json!({"text": "cracked screen", "vector": at(120.0), "k": 3})).await;
    let got = results(&r);
    assert_eq!(got[0].0, "d3", "in both lists, near the top of each: {r}");
    assert!(got.iter().all(|g| g.1.is_some() && g.2.is_some()), "{r}");
    // Weights: all on the vector gives the vector order.
    let r = search(json!({"text": "cracked screen", "vector": at(120.0), "k": 2, "fusion": {"text_weight": 0}})).await;
    assert_eq!(
        results(&r).iter().map(|g| g.0).collect::<Vec<_>>(),
        ["d4", "d3"],
        "{r}"
    );
    // Filters and exclusions hold inside both rankings.
    let r = search(json!({"text": "cracked screen", "vector": at(120.0), "k": 5, "filter": {"lang": "en"}, "exclude_ids": ["d0"]})).await;
    assert!(
        results(&r).iter().all(|g| ["d2", "d4"].contains(&g.0)),
        "{r}"
    );
    // Writes change what keywords find.
    ok(&api, "/vectors/index/docs/add", json!({"items": [{"id": "d1", "vector": at(30.0), "metadata": {"body": "cracked screen"}}]})).await;
    ok(&api, "/vectors/index/docs/delete", json!({"ids": ["d3"]})).await;
    let r = search(json!({"text": "cracked screen", "k": 5})).await;
    assert_eq!(
        results(&r).iter().map(|g| g.0).collect::<Vec<_>>(),
        ["d1", "d0"],
        "{r}"
    );

    // Refusals change nothing.
    for (body, code) in [
        (json!({"k": 3}), "invalid_query"),
        (json!({"text": "   "}), "invalid_query"),
        (
            json!({"text": "x", "vector": at(1.0), "fusion": {"k": -1}}),
            "invalid_fusion",
        ),
        (
            json!({"text": "x", "vector": at(1.0), "fusion": {"vector_weight": 0, "text_weight": 0}}),
            "invalid_fusion",
        ),
        (json!({"text": "x".repeat(9000)}), "invalid_query"),
    ] {
        let (st, v) = api.post("/vectors/index/docs/search", &body).await;
        assert_eq!(
            (st.as_u16(), v["error"]["code"].as_str()),
            (400, Some(code)),
            "{v}"
        );
    }
    ok(
        &api,
        "/vectors/index",
        json!({"name": "plain", "dimension": 3}),
    )
    .await;
    let (st, v) = api
        .post("/vectors/index/plain/search", &json!({"text": "x"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (400, Some("no_text_field")),
        "{v}"
    );

    // The keyword index is rebuilt after a SIGKILL (from the log) and a clean restart (from
    // the snapshot), and as of a commit.
    let c = ok(&api, "/vectors/index/docs/commit", json!({})).await;
    let v1 = c["version"].as_u64().unwrap();
    let want = search(json!({"text": "cracked screen", "k": 5})).await;
    f.restart("vectord", true);
    assert_eq!(
        search(json!({"text": "cracked screen", "k": 5})).await["results"],
        want["results"]
    );
    f.restart("vectord", false);
    assert_eq!(
        search(json!({"text": "cracked screen", "k": 5})).await["results"],
        want["results"]
    );
    let (_, info) = api.get("/vectors/index/docs").await;
    assert_eq!(info["text_field"], "body", "{info}");
    ok(&api, "/vectors/index/docs/add", json!({"items": [{"id": "d9", "vector": at(5.0), "metadata": {"body": "cracked cracked screen screen"}}]})).await;
    let then = search(json!({"text": "cracked screen", "k": 5, "as_of": v1})).await;
    assert_eq!(then["results"], want["results"], "as of {v1}: {then}");
    let now = search(json!({"text": "cracked screen", "k": 5})).await;
    assert_eq!(results(&now)[0].0, "d9", "{now}");
}
