//! `vector_search(...)` and `embed(...)` inside SQL, through the real binaries: the same hits
//! as the search route, joins with datasets, a filter applied inside the walk (k rows even
//! when few match), a LATERAL search per row of a task table, text queries through the
//! fleet's embedder, the index read `as_of` a catalog version, and every bad argument a 400
//! naming it; a token scoped to one index cannot search another.

#![allow(clippy::unwrap_used)]

use lakehouse_e2e::api::Api;
use lakehouse_e2e::{Fleet, SERVERS, Storage};
use serde_json::{Value, json};

const TOKEN: &str = "vector-sql-token-8f3a1c5e7b9d2f4a";
const SCOPED: &str = "vector-sql-scoped-2e4a6c8e0b1d3f5a7c9e";
/// Searches one statement may make in this fleet.
const CAP: usize = 150;

fn at(deg: f64) -> [f64; 3] {
    let a = deg.to_radians();
    [a.cos(), a.sin(), 0.5]
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn refused(api: &Api, sql: &str) -> (u16, String, String) {
    let (st, v) = api.sql(sql).await;
    (
        st.as_u16(),
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// vectord's searches as of a version: (answered live, answered from a stored state).
async fn as_of_searches(f: &Fleet) -> (u64, u64) {
    let read = async |name: &str| {
        let sample = format!("lakehouse_vector_as_of_{name}_searches_total");
        f.metric("vectord", TOKEN, &sample)
            .await
            .unwrap_or_else(|| panic!("no {sample}")) as u64
    };
    (read("live").await, read("stored").await)
}

#[tokio::test(flavor = "multi_thread")]
async fn nearest_neighbours_join_datasets_inside_one_statement() {
    let mut f = Fleet::with(
        Some(TOKEN),
        Storage::Fs,
        &[("queryd", &format!("max_vector_searches = {CAP}"))],
        "",
    );
    let token_file = f.dir.path().join("scoped.token");
    std::fs::write(&token_file, SCOPED).unwrap();
    f.append_config(&format!(
        "[[auth.clients]]\nname = \"scoped\"\nrole = \"read\"\ntoken_file = {:?}\nindexes = [\"other\"]\n",
        token_file.to_str().unwrap()
    ));
    f.start(&SERVERS);
    let api = Api::new(&f.url("gateway"), TOKEN);

    // 360 items on a circle, one a degree; every tenth is "rare"; a dataset row per item.
    let (st, v) = api
        .post(
            "/vectors/index",
            &json!({"name": "evidence", "dimension": 3}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let items: Vec<Value> = (0..360)
        .map(|i| {
            let kind = if i % 10 == 0 { "rare" } else { "common" };
            json!({"id": format!("e{i}"), "vector": at(f64::from(i)), "metadata": {"kind": kind}})
        })
        .collect();
    let (st, v) = api
        .post("/vectors/index/evidence/add", &json!({"items": items}))
        .await;
    assert!(st.is_success(), "{v}");
    let csv: String = std::iter::once("evidence_id,kind,n\n".to_owned())
        .chain((0..360).map(|i| {
            let kind = if i % 10 == 0 { "rare" } else { "common" };
            format!("e{i},{kind},{i}\n")
        }))
        .collect();
    let (st, v) = api.ingest("name=evidence", csv).await;
    assert!(st.is_success(), "{v}");

    // The same hits, in the same order, as the search route.
    let (st, direct) = api
        .post(
            "/vectors/index/evidence/search",
            &json!({"vector": at(100.2), "k": 10}),
        )
        .await;
    assert_eq!(st, 200, "{direct}");
    let rows = api
        .rows("SELECT id, distance, rank FROM vector_search('evidence', [cos(radians(100.2)), sin(radians(100.2)), 0.5]::FLOAT[], k => 10) ORDER BY rank")
        .await;
    let want: Vec<Value> = direct["results"].as_array().unwrap().clone();
    assert_eq!(ids(&rows), ids(&want));
    for (r, w) in rows.iter().zip(&want) {
        let (a, b) = (
            r["distance"].as_f64().unwrap(),
            w["distance"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "{r} vs {w}");
    }
    assert_eq!(rows[0]["rank"], 1);

    // Joined with the dataset in one statement, with a filter inside the walk: k rows even
    // though only one item in ten passes it.
    let q = format!(
        "SELECT e.evidence_id, e.kind, e.n, v.distance, v.metadata \
         FROM vector_search('evidence', [{}, {}, {}], k => 10, filter => '{{\"kind\": \"rare\"}}') AS v \
         JOIN evidence e ON e.evidence_id = v.id ORDER BY v.distance",
        at(55.0)[0],
        at(55.0)[1],
        at(55.0)[2]
    );
    let rows = api.rows(&q).await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(rows.iter().all(|r| r["kind"] == "rare"), "{rows:?}");
    assert_eq!(rows[0]["evidence_id"], "e50");
    let meta: Value = serde_json::from_str(rows[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta, json!({"kind": "rare"}));
    // Exclusions inside the walk too.
    let rows = api
        .rows(&format!(
            "SELECT id FROM vector_search('evidence', [{}, {}, {}], k => 3, exclude => ['e50', 'e51']) ORDER BY rank",
            at(50.0)[0],
            at(50.0)[1],
            at(50.0)[2]
        ))
        .await;
    let got = ids(&rows);
    assert_eq!(got[0], "e49", "{got:?}");
    // e48 and e52 are equally far: either order.
    let mut tied = got[1..].to_vec();
    tied.sort();
    assert_eq!(tied, ["e48", "e52"]);

    // LATERAL: a batch of 100 queries in one statement, each with its own top-k.
    let tasks: String = std::iter::once("task,angle\n".to_owned())
        .chain((0..100).map(|i| format!("t{i},{}\n", i * 3 + 1)))
        .collect();
    let (st, v) = api.ingest("name=tasks", tasks).await;
    assert!(st.is_success(), "{v}");
    let rows = api
        .rows(
            "SELECT t.task, t.angle, v.id, v.rank FROM tasks t, \
             LATERAL vector_search('evidence', [cos(radians(t.angle)), sin(radians(t.angle)), 0.5]::FLOAT[], k => 2) v \
             ORDER BY t.angle, v.rank",
        )
        .await;
    assert_eq!(rows.len(), 200, "two per task");
    for pair in rows.chunks(2) {
        let angle = pair[0]["angle"].as_i64().unwrap();
        assert_eq!(pair[0]["id"], format!("e{angle}"), "{pair:?}");
        assert_eq!(pair[0]["rank"], 1);
    }
    // More searches than one statement may make: refused, naming the cap.
    let (st, code, msg) = refused(
        &api,
        "SELECT count(*) FROM range(200) r, LATERAL vector_search('evidence', [cos(radians(r.range)), sin(radians(r.range)), 0.5]::FLOAT[], k => 1) v",
    )
    .await;
    assert_eq!((st, code.as_str()), (400, "too_many_searches"), "{msg}");
    assert!(msg.contains(&CAP.to_string()), "{msg}");

    // Text: `embed(text)` is the fleet's embedder (hash by default), the same as a text query.
    let rows = api
        .rows("SELECT len(embed('why did order 1182 fail?')) AS d")
        .await;
    assert_eq!(rows[0]["d"], 384);
    let (st, v) = api
        .post(
            "/vectors/index",
            &json!({"name": "notes", "dimension": 384}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let texts = [
        "why did order 1182 fail",
        "the cat sat on the mat",
        "refund for order 77",
    ];
    let mut notes = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let r = api.rows(&format!("SELECT embed('{t}') AS v")).await;
        notes.push(json!({"id": format!("n{i}"), "vector": r[0]["v"], "metadata": {"text": t}}));
    }
    let (st, v) = api
        .post("/vectors/index/notes/add", &json!({"items": notes}))
        .await;
    assert!(st.is_success(), "{v}");
    for sql in [
        "SELECT id FROM vector_search('notes', 'why did order 1182 fail', k => 1)",
        "SELECT id FROM vector_search('notes', embed('why did order 1182 fail'), k => 1)",
    ] {
        assert_eq!(ids(&api.rows(sql).await), ["n0"], "{sql}");
    }

    // The index is read at the statement's catalog version, like the datasets: as_of, or
    // else the version the answer names. A write since the last commit is in neither; an
    // index never committed ('notes' above) is read live.
    let (st, c) = api.post("/vectors/index/evidence/commit", &json!({})).await;
    assert_eq!(st, 200, "{c}");
    let v1 = c["version"].as_u64().unwrap();
    let (st, v) = api
        .post(
            "/vectors/index/evidence/add",
            &json!({"items": [{"id": "late", "vector": at(200.3), "metadata": {"kind": "rare"}}]}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let near = "SELECT id FROM vector_search('evidence', [cos(radians(200.3)), sin(radians(200.3)), 0.5]::FLOAT[], k => 1)";
    let (st, now) = api.sql_with(json!({"sql": near})).await;
    assert_eq!(st, 200, "{now}");
    assert_eq!(now["rows"][0]["id"], "e200", "uncommitted: {now}");
    assert_eq!(now["catalog_version"], v1, "{now}");
    let (st, c) = api.post("/vectors/index/evidence/commit", &json!({})).await;
    assert_eq!(st, 200, "{c}");
    let v2 = c["version"].as_u64().unwrap();
    let (st, now) = api.sql_with(json!({"sql": near})).await;
    assert_eq!(st, 200, "{now}");
    assert_eq!(
        (
            now["rows"][0]["id"].as_str(),
            now["catalog_version"].as_u64()
        ),
        (Some("late"), Some(v2)),
        "committed: {now}"
    );
    let before = as_of_searches(&f).await;
    let (st, then) = api.sql_with(json!({"sql": near, "as_of": v1})).await;
    assert_eq!(st, 200, "{then}");
    assert_eq!(then["rows"][0]["id"], "e200", "{then}");
    // The newest commit, with nothing written since, is answered by the live index; an
    // older one by its stored state.
    let after_old = as_of_searches(&f).await;
    assert_eq!(after_old, (before.0, before.1 + 1), "as of v1");
    api.sql_with(json!({"sql": near})).await;
    assert_eq!(
        as_of_searches(&f).await,
        (after_old.0 + 1, after_old.1),
        "as of v2"
    );
    // Before the index's first commit there is no state to read.
    let (st, e) = api.sql_with(json!({"sql": near, "as_of": v1 - 1})).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (400, Some("index_not_found")),
        "{e}"
    );

    // Bad arguments: 400s naming the argument; an unknown index; a scoped token.
    for (sql, code, names) in [
        (
            "SELECT * FROM vector_search('nope', [1.0, 0.0, 0.5]::FLOAT[])",
            "index_not_found",
            "nope",
        ),
        (
            "SELECT * FROM vector_search('evidence', [1.0, 0.0]::FLOAT[])",
            "invalid_argument",
            "dimension",
        ),
        (
            "SELECT * FROM vector_search('evidence', [1.0, 'nan'::FLOAT, 0.5]::FLOAT[])",
            "invalid_argument",
            "query",
        ),
        (
            "SELECT * FROM vector_search('evidence', [1.0, 0.0, 0.5]::FLOAT[], k => 5000)",
            "invalid_argument",
            "k",
        ),
        (
            "SELECT * FROM vector_search('evidence', [1.0, 0.0, 0.5]::FLOAT[], filter => 'kind=rare')",
            "invalid_argument",
            "filter",
        ),
        (
            "SELECT * FROM vector_search('../storage', [1.0, 0.0, 0.5]::FLOAT[])",
            "invalid_argument",
            "index",
        ),
    ] {
        let (st, got, msg) = refused(&api, sql).await;
        assert_eq!((st, got.as_str()), (400, code), "{sql}: {msg}");
        assert!(msg.contains(names), "{sql}: {msg}");
    }
    let scoped = Api::new(&f.url("gateway"), SCOPED);
    let (st, code, msg) = refused(
        &scoped,
        "SELECT * FROM vector_search('evidence', [1.0, 0.0, 0.5]::FLOAT[])",
    )
    .await;
    assert_eq!((st, code.as_str()), (403, "forbidden"), "{msg}");
    // The functions need the statement's own ticket: called directly with another, refused.
    let (st, code, _) = refused(
        &api,
        "SELECT __lakehouse_vector_search('forged', 'evidence', [1.0, 0.0, 0.5]::FLOAT[], 1, 0, '', [])",
    )
    .await;
    assert_eq!((st, code.as_str()), (400, "invalid_argument"));
}
