//! Security with the real binaries, through the gateway: client tokens with roles and scopes
//! on every route, the fleet's internal state closed to all but admins, the audit log,
//! escaped dot segments, catalog strings that must never become SQL, and appends that widen
//! to the dataset's types.

#![allow(clippy::unwrap_used)]

use lakehouse_e2e::api::{Api, multipart};
use lakehouse_e2e::{Fleet, SERVERS};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const FLEET_TOKEN: &str = "security-fleet-token";

/// A fleet with four client tokens: reader, writer, admin, and a writer scoped to the
/// `sales*` datasets, the `raw` prefix and the `docs` index.
struct Clients {
    fleet: Fleet,
    reader: Api,
    writer: Api,
    admin: Api,
    scoped: Api,
    root: Api,
}

fn token(name: &str) -> String {
    format!("{name}-{}", "t".repeat(40))
}

fn start() -> Clients {
    let f = Fleet::new(Some(FLEET_TOKEN), "");
    let mut extra = String::new();
    for (name, role, scopes) in [
        ("reader", "read", ""),
        ("writer", "write", ""),
        ("admin", "admin", ""),
        (
            "scoped",
            "write",
            "datasets = [\"sales*\", \"raw\"]\nindexes = [\"docs\"]\n",
        ),
    ] {
        let path = f.dir.path().join(format!("{name}.token"));
        std::fs::write(&path, format!("{}\n", token(name))).unwrap();
        extra.push_str(&format!(
            "[[auth.clients]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_file = {:?}\n{scopes}",
            path.to_str().unwrap()
        ));
    }
    f.append_config(&extra);
    let mut fleet = f;
    fleet.start(&SERVERS);
    let gw = fleet.url("gateway");
    Clients {
        reader: Api::new(&gw, &token("reader")),
        writer: Api::new(&gw, &token("writer")),
        admin: Api::new(&gw, &token("admin")),
        scoped: Api::new(&gw, &token("scoped")),
        root: Api::new(&gw, FLEET_TOKEN),
        fleet,
    }
}

async fn call(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    api.call(method, path, body.as_ref()).await
}

fn audit_lines(f: &Fleet) -> Vec<Value> {
    std::fs::read_to_string(f.dir.path().join("data/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_by_every_role() {
    let c = start();
    let csv = "id,rate\n1,1.5\n";
    let (st, v) = c.admin.ingest("name=sales", csv).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = c.admin.ingest("name=hr", csv).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for idx in ["docs", "secrets"] {
        let (st, v) = call(
            &c.admin,
            Method::POST,
            "/vectors/index",
            Some(json!({"name": idx, "dimension": 2})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let item = json!({"items": [{"id": "a", "vector": [1, 0]}]});
        assert_eq!(
            call(
                &c.admin,
                Method::POST,
                &format!("/vectors/index/{idx}/add"),
                Some(item)
            )
            .await
            .0,
            StatusCode::OK
        );
    }
    c.admin.put("raw/x.txt", "x").await;

    // (method, path, body, least role that may call it)
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/storage/objects/raw/x.txt".into(),
            None,
            "read",
        ),
        (
            Method::GET,
            "/storage/list?prefix=raw/".into(),
            None,
            "read",
        ),
        (Method::GET, "/catalog/list".into(), None, "read"),
        (Method::GET, "/catalog/manifest/sales".into(), None, "read"),
        (Method::GET, "/catalog/version".into(), None, "read"),
        (
            Method::POST,
            "/sql".into(),
            Some(json!({"sql": "SELECT count(*) FROM sales"})),
            "read",
        ),
        (Method::GET, "/sql/tables".into(), None, "read"),
        (Method::GET, "/vectors/index".into(), None, "read"),
        (Method::GET, "/vectors/index/docs".into(), None, "read"),
        (
            Method::GET,
            "/vectors/index/docs/items/a".into(),
            None,
            "read",
        ),
        (
            Method::POST,
            "/vectors/index/docs/search".into(),
            Some(json!({"vector": [1, 0]})),
            "read",
        ),
        (
            Method::PUT,
            "/storage/objects/raw/y.txt".into(),
            Some(json!("y")),
            "write",
        ),
        (
            Method::DELETE,
            "/storage/objects/raw/y.txt".into(),
            None,
            "write",
        ),
        (
            Method::POST,
            "/catalog/append".into(),
            Some(json!({"name": "sales", "schema_fingerprint": "nope", "objects": []})),
            "write",
        ),
        (
            Method::POST,
            "/vectors/index".into(),
            Some(json!({"name": "docs", "dimension": 2})),
            "write",
        ),
        (
            Method::POST,
            "/vectors/index/docs/add".into(),
            Some(json!({"items": [{"id": "b", "vector": [0, 1]}]})),
            "write",
        ),
        (
            Method::POST,
            "/vectors/index/docs/delete".into(),
            Some(json!({"ids": ["b"]})),
            "write",
        ),
        (
            Method::POST,
            "/vectors/index/docs/merge".into(),
            Some(json!({"dest": "docs"})),
            "write",
        ),
        (Method::DELETE, "/vectors/index/nope".into(), None, "admin"),
        (
            Method::DELETE,
            "/catalog/manifest/nope".into(),
            None,
            "admin",
        ),
        (
            Method::GET,
            "/storage/objects/_catalog/manifests/sales.json".into(),
            None,
            "admin",
        ),
        (
            Method::PUT,
            "/storage/objects/_vectors/x.lhv1".into(),
            Some(json!("x")),
            "admin",
        ),
    ];
    let rank = |r: &str| {
        ["read", "write", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    for (who, api) in [
        ("read", &c.reader),
        ("write", &c.writer),
        ("admin", &c.admin),
    ] {
        for (m, path, body, least) in &routes {
            let (st, v) = call(api, m.clone(), path, body.clone()).await;
            if rank(who) >= rank(least) {
                assert_ne!(st, StatusCode::FORBIDDEN, "{who} {m} {path} → {v}");
                assert_ne!(st, StatusCode::UNAUTHORIZED, "{who} {m} {path} → {v}");
            } else {
                assert_eq!(st, StatusCode::FORBIDDEN, "{who} {m} {path} → {v}");
                let code = v["error"]["code"].as_str().unwrap();
                assert!(code == "forbidden" || code == "reserved_key", "{v}");
            }
        }
    }
    // The ingest route, by role.
    assert_eq!(
        c.reader.ingest("name=sales2", csv).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(c.writer.ingest("name=sales2", csv).await.0, StatusCode::OK);

    // Scopes: names in the path, the query and the body, listings, SQL and storage keys.
    let s = &c.scoped;
    assert_eq!(s.ingest("name=sales_eu", csv).await.0, StatusCode::OK);
    assert_eq!(s.ingest("name=hr", csv).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/catalog/manifest/hr").await.0, StatusCode::FORBIDDEN);
    let (_, v) = s.get("/catalog/list").await;
    let names: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"sales") && !names.contains(&"hr"),
        "{names:?}"
    );
    let (_, v) = s.get("/sql/tables").await;
    assert!(!v.to_string().contains("\"hr\""), "{v}");
    assert_eq!(
        s.sql("SELECT count(*) AS n FROM sales").await.0,
        StatusCode::OK
    );
    assert_eq!(s.sql("SELECT * FROM hr").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        s.sql("SELECT * FROM query_table('h' || 'r')").await.0,
        StatusCode::FORBIDDEN
    );
    let register = json!({"name": "hr", "schema_fingerprint": "f", "objects": []});
    assert_eq!(
        call(s, Method::POST, "/catalog/register", Some(register))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            s,
            Method::POST,
            "/vectors/index/secrets/search",
            Some(json!({"vector": [1, 0]}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            s,
            Method::POST,
            "/vectors/index",
            Some(json!({"name": "other", "dimension": 2}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            s,
            Method::POST,
            "/vectors/index/docs/merge",
            Some(json!({"dest": "secrets"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (_, v) = s.get("/vectors/index").await;
    assert_eq!(v["names"], json!(["docs"]));
    assert_eq!(s.get("/storage/objects/raw/x.txt").await.0, StatusCode::OK);
    assert_eq!(
        s.get("/storage/objects/datasets/hr/x").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get("/storage/list?prefix=").await.0,
        StatusCode::FORBIDDEN
    );

    // A wrong token is 401; a client naming itself to the services is ignored.
    assert_eq!(
        Api::new(&c.reader.base, "wrong")
            .get("/catalog/list")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let res = c
        .reader
        .http
        .put(format!("{}/v1/storage/objects/raw/z", c.reader.base))
        .bearer_auth(&c.reader.token)
        .header("x-lakehouse-client", "admin")
        .body("z")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The audit log: every mutation with token name, source, route, target and outcome;
    // refusals too; never a token.
    let lines = audit_lines(&c.fleet);
    let text = serde_json::to_string(&lines).unwrap();
    for t in ["reader", "writer", "admin", "scoped"] {
        assert!(
            !text.contains(&token(t)),
            "a token leaked into the audit log"
        );
    }
    let ingest = lines
        .iter()
        .find(|l| l["token"] == "writer" && l["route"] == "/ingest" && l["outcome"] == "ok")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(ingest["target"], "dataset:sales2");
    assert_eq!(ingest["service"], "ingestd");
    assert_eq!(ingest["source"], "127.0.0.1");
    assert!(ingest["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let denied = lines
        .iter()
        .find(|l| l["token"] == "reader" && l["outcome"] == "denied" && l["route"] == "/v1/ingest");
    assert!(denied.is_some(), "{text}");
    let created = lines.iter().find(|l| {
        l["token"] == "admin" && l["target"] == "index:docs" && l["route"] == "/vectors/index"
    });
    assert!(created.is_some(), "{text}");
    // Reads are not audited; a service calling another is not audited again.
    assert!(
        !lines
            .iter()
            .any(|l| l["method"] == "GET" && l["outcome"] == "ok"),
        "{text}"
    );
    assert!(
        !lines.iter().any(|l| l["token"] == "fleet"
            && l["service"] == "catalogd"
            && l["route"] == "/catalog/register"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_state_is_closed_to_clients() {
    let c = start();
    let (st, _) = c.writer.ingest("name=victim", "id\n1\n").await;
    assert_eq!(st, StatusCode::OK);
    // Writing a manifest around catalogd, or a vector snapshot: refused.
    for key in [
        "_catalog/manifests/victim.json",
        "_vectors/x.lhv1",
        "_receipts/m/x.json",
        "_materializer/ids/x.ids",
        "%5Fcatalog/manifests/victim.json",
    ] {
        let (st, v) = call(
            &c.writer,
            Method::PUT,
            &format!("/storage/objects/{key}"),
            Some(json!({})),
        )
        .await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("reserved_key")),
            "{key}: {v}"
        );
    }
    // Listings do not show it to non-admins; admins and the fleet see it.
    assert!(!c.writer.keys("").await.iter().any(|k| k.starts_with('_')));
    assert_eq!(
        c.writer.get("/storage/list?prefix=_catalog/").await.0,
        StatusCode::FORBIDDEN
    );
    assert!(
        c.admin
            .keys("_catalog/")
            .await
            .iter()
            .any(|k| k.starts_with("_catalog/log/"))
    );
    // A dataset may not claim another dataset's objects or internal keys, so deleting it can
    // never delete them.
    let (_, m) = c.writer.get("/catalog/manifest/victim").await;
    let victim_key = m["objects"][0]["key"].as_str().unwrap().to_owned();
    for key in [victim_key.as_str(), "_catalog/manifests/victim.json"] {
        let body = json!({"name": "thief", "schema_fingerprint": "f", "objects": [{"key": key, "size": 1, "row_count": 1}]});
        let (st, v) = call(&c.writer, Method::POST, "/catalog/register", Some(body)).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    }
    // A catalog type is never SQL: a manifest whose type would create a view is refused.
    let evil = json!({"name": "trap", "schema_fingerprint": "f", "objects": [], "schema": [
        {"name": "n", "type": "BIGINT) AS n WHERE false; CREATE OR REPLACE VIEW victim AS SELECT 42 AS id; SELECT CAST(NULL AS BIGINT"}]});
    let (st, v) = call(&c.root, Method::POST, "/catalog/register", Some(evil)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        c.writer.rows("SELECT id FROM victim").await,
        vec![json!({"id": 1})]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_segment_ids_and_widening_appends() {
    let c = start();
    let api = &c.root;
    // An item whose id is '..' is stored and read back through the gateway.
    call(
        api,
        Method::POST,
        "/vectors/index",
        Some(json!({"name": "v", "dimension": 2})),
    )
    .await;
    let (st, v) = call(
        api,
        Method::POST,
        "/vectors/index/v/add",
        Some(json!({"items": [{"id": "..", "vector": [1, 0]}, {"id": ".", "vector": [0, 1]}]})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for (raw, id) in [("%2E%2E", ".."), ("%2e", ".")] {
        // Sent as written: an HTTP client library would resolve the dot segment itself.
        let (status, text) = api
            .raw("GET", &format!("/v1/vectors/index/v/items/{raw}"), b"")
            .await;
        assert_eq!(status, 200, "{raw}: {text}");
        assert!(text.contains(&format!("\"id\":\"{id}\"")), "{raw}: {text}");
    }

    // An append whose whole numbers meet a DOUBLE column is widened, not refused.
    let (st, v) = api
        .ingest("name=rates", "day,rate,note\n2024-01-01,1.5,a\n")
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = api
        .ingest(
            "name=rates&mode=append",
            "day,rate,note\n2024-01-02,2,true\n",
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["schema"],
        json!([
        {"name": "day", "type": "DATE", "nullable": false},
        {"name": "rate", "type": "DOUBLE", "nullable": false},
        {"name": "note", "type": "VARCHAR", "nullable": false}])
    );
    assert_eq!(
        api.rows("SELECT sum(rate) AS s, count(*) AS n FROM rates")
            .await,
        vec![json!({"s": 3.5, "n": 2})]
    );
    // A real conflict is refused, naming the column and both types, and changes nothing.
    let (st, v) = api
        .ingest(
            "name=rates&mode=append",
            "day,rate,note\n2024-01-03,high,x\n",
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("'rate'") && m.contains("VARCHAR") && m.contains("DOUBLE"),
        "{m}"
    );
    assert_eq!(
        api.rows("SELECT count(*) AS n FROM rates").await,
        vec![json!({"n": 2})]
    );
    let body = multipart("file", b"x\n1\n");
    assert_eq!(
        api.ingest_raw("name=rates&mode=append", body).await.0,
        StatusCode::CONFLICT
    );
}
