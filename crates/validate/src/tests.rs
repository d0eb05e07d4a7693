use serde_json::{Value, json};

use super::*;

fn v(j: &Value) -> Validator {
    Validator::parse(j).unwrap()
}

fn none() -> Context<'static> {
    Context::default()
}

#[test]
fn the_basic_validators_pass_and_fail() {
    let ctx = none();
    assert_eq!(
        v(&json!("non_empty")).check("  \n", &ctx),
        ["non_empty: the answer is empty"]
    );
    assert!(v(&json!("non_empty")).check("x", &ctx).is_empty());
    let short = v(&json!({"max_chars": 160}));
    assert!(short.check(&"é".repeat(160), &ctx).is_empty());
    assert_eq!(
        short.check(&"a".repeat(161), &ctx),
        ["max_chars: 161 > 160"]
    );
    let j = v(&json!({"json": {"required": ["id", "status"]}}));
    assert!(j.check(r#"{"id":1,"status":"shipped"}"#, &ctx).is_empty());
    assert!(
        j.check("```json\n{\"id\":1,\"status\":\"x\"}\n```", &ctx)
            .is_empty()
    );
    assert_eq!(
        j.check(r#"{"id":1}"#, &ctx),
        ["json: missing key(s) status"]
    );
    assert!(j.check("id: 1", &ctx)[0].starts_with("json: not valid JSON"));
    assert!(v(&json!("json")).check("[1,2]", &ctx).is_empty());
    let re = v(&json!({"regex": "^\\d{4}$"}));
    assert!(re.check("2026", &ctx).is_empty());
    assert_eq!(re.check("year 2026", &ctx).len(), 1);
    let p = v(&json!("no_pii"));
    assert!(
        p.check("Call 555-123-4567 before 2026-12-01.", &ctx)
            .is_empty()
    );
    assert_eq!(
        p.check("SSN 123-45-6789", &ctx),
        ["no_pii: 1 SSN-shaped string(s)"]
    );
}

#[test]
fn every_failure_of_every_validator_is_reported() {
    let vs = [
        v(&json!("non_empty")),
        v(&json!({"max_chars": 3})),
        v(&json!("no_pii")),
    ];
    assert_eq!(run_all(&vs, "123-45-6789", &none()).len(), 2);
    let email = v(&json!({"email": {"require_recipients": true}}));
    assert_eq!(
        email.check("Hi [NAME],\nyour SSN 123-45-6789 is on file.", &none()),
        [
            "email: no subject",
            "email: unfilled placeholder(s) [NAME]",
            "email: no recipient",
            "email: 1 SSN-shaped string(s)",
        ]
    );
}

#[test]
fn email_drafts() {
    let e = v(&json!("email"));
    let ctx = none();
    let good = "To: ops@example.com\nSubject: Shift cover for Friday\n\nHello Dana,\nWe found three welders for Friday's night shift; details attached.";
    assert!(e.check(good, &ctx).is_empty(), "{:?}", e.check(good, &ctx));
    let json_draft = json!({"to": ["Dana Ray <dana@example.com>"], "subject": "Friday", "body": "Three welders can cover Friday's shift. Call 555-123-4567."});
    assert!(e.check(&json_draft.to_string(), &ctx).is_empty());
    assert_eq!(
        e.check("Subject: Hi\n\nShort.", &ctx),
        ["email: the body has 6 characters, at least 20 wanted"]
    );
    let bounded = v(&json!({"email": {"max_body": 30}}));
    assert_eq!(
        bounded.check(&format!("Subject: x\n\n{}", "a".repeat(31)), &ctx),
        ["email: the body has 31 characters, at most 30 allowed"]
    );
    assert_eq!(
        e.check(
            "To: dana@, ok@x.io\nSubject: {{subject}}\n\nDear {{first_name}}, the shift is yours.",
            &ctx
        ),
        [
            "email: unfilled placeholder(s) {{subject}}, {{first_name}}",
            "email: recipient 'dana@' is not an address",
        ]
    );
    assert_eq!(e.check("", &ctx), ["email: no subject", "email: no body"]);
    assert_eq!(
        e.check(r#"{"subject": ["x"], "body": "y"}"#, &ctx),
        ["email: \"subject\" is not a string"]
    );
}

#[test]
fn sms_drafts_count_as_carriers_do_and_allow_phone_numbers() {
    let s = v(&json!("sms"));
    let ctx = none();
    let fits = format!("Shift Fri 7pm, call 555-123-4567. {}", "x".repeat(126));
    assert_eq!(fits.chars().count(), 160);
    assert!(s.check(&fits, &ctx).is_empty());
    assert_eq!(
        s.check(&format!("{fits}!"), &ctx),
        ["sms: 161 GSM-7 characters > 160 (one message)"]
    );
    // 70 characters with one curly apostrophe is UCS-2 and fits exactly; 71 does not.
    let curly = format!("It’s {}", "y".repeat(65));
    assert!(s.check(&curly, &ctx).is_empty());
    let over = s.check(&format!("{curly}y"), &ctx);
    assert_eq!(over.len(), 1);
    assert!(
        over[0].starts_with("sms: 71 UCS-2 characters > 70"),
        "{over:?}"
    );
    assert_eq!(
        s.check("Your SSN 123-45-6789 is on file", &ctx),
        ["sms: 1 SSN-shaped string(s)"]
    );
    let two = v(&json!({"sms": {"parts": 2}}));
    assert!(two.check(&"a".repeat(306), &ctx).is_empty());
}

#[test]
fn fill_proposals_name_only_retrieved_evidence() {
    let f = v(&json!({"fill": {"fields": {"role": "string"}, "max_candidates": 2}}));
    let evidence = ["w1".to_owned(), "w2".to_owned()];
    let ctx = Context {
        evidence_ids: &evidence,
    };
    let good = "```json\n{\"role\": \"welder\", \"candidates\": [{\"id\": \"w2\", \"why\": \"certified\"}]}\n```";
    assert!(f.check(good, &ctx).is_empty());
    assert_eq!(
        f.check(r#"{"role": "welder", "candidates": ["w3"]}"#, &ctx),
        ["fill: candidate 'w3' is not in the retrieved evidence"]
    );
    assert!(f.check("w1, w2", &ctx)[0].starts_with("fill: not valid JSON"));
}

#[test]
fn json_schema_is_any_draft_2020_12_schema() {
    let schema = json!({
        "type": "object",
        "required": ["status", "items"],
        "properties": {
            "status": {"enum": ["ok", "late"]},
            "items": {"type": "array", "prefixItems": [{"type": "integer"}], "items": false}
        }
    });
    let s = v(&json!({ "json_schema": schema }));
    let ctx = none();
    assert!(
        s.check(r#"{"status": "ok", "items": [3]}"#, &ctx)
            .is_empty()
    );
    let bad = s.check(r#"{"status": "gone", "items": [3, 4]}"#, &ctx);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad.iter()
            .any(|e| e.starts_with("json_schema: at /status:")),
        "{bad:?}"
    );
    // prefixItems with items: false is 2020-12 only: a second item is refused.
    assert!(
        bad.iter().any(|e| e.starts_with("json_schema: at /items")),
        "{bad:?}"
    );
    assert_eq!(s.check(r#"{"items": []}"#, &ctx).len(), 1);
    assert!(s.check("nope", &ctx)[0].starts_with("json_schema: not valid JSON"));
    let e = Validator::parse(&json!({"json_schema": {"type": "strin"}})).unwrap_err();
    assert!(e.starts_with("json_schema: the schema is not valid"), "{e}");
    // A schema may not reach outside itself: no local file, no network.
    for url in ["file:///etc/passwd", "https://example.com/s.json"] {
        let e = Validator::parse(&json!({"json_schema": {"$ref": url}})).unwrap_err();
        assert!(e.contains("a schema may refer only to itself"), "{e}");
    }
    // Its own definitions are fine.
    let own = json!({"json_schema": {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}});
    let own = Validator::parse(&own).unwrap();
    assert!(own.check("3", &ctx).is_empty());
    assert_eq!(own.check("\"x\"", &ctx).len(), 1);
}

#[test]
fn bad_validator_configurations_are_refused_with_a_reason() {
    for (j, want) in [
        (json!("sparkles"), "unknown validator 'sparkles'"),
        (json!({"regex": "("}), "regex:"),
        (json!({"max_chars": 0}), "max_chars needs a positive number"),
        (
            json!({"email": {"min_bdy": 3}}),
            "email: unknown option 'min_bdy'",
        ),
        (
            json!({"email": {"min_body": 9, "max_body": 3}}),
            "max_body is below min_body",
        ),
        (json!({"sms": {"parts": 0}}), "sms: parts is at least 1"),
        (json!({"sms": 3}), "sms takes an object of options"),
        (json!({"json_schema": "x"}), "json_schema takes a schema"),
        (
            json!({"a": 1, "b": 2}),
            "a validator is a name or an object with one key",
        ),
    ] {
        let e = Validator::parse(&j).unwrap_err();
        assert!(e.contains(want), "{j}: {e}");
    }
}

/// A deterministic stream of numbers for the corpus.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Phone numbers, dates, ZIP+4 codes and order numbers in the shapes they are written in,
/// alone and inside sentences.
fn not_ssns(r: &mut Lcg) -> Vec<String> {
    let d = |r: &mut Lcg, n: u32| format!("{:0w$}", r.next(10u64.pow(n)), w = n as usize);
    let (a, b, c) = (d(r, 3), d(r, 3), d(r, 4));
    let (y, m, day) = (1990 + r.next(50), 1 + r.next(12), 1 + r.next(28));
    let (zip, plus4) = (d(r, 5), d(r, 4));
    vec![
        format!("{a}-{b}-{c}"),
        format!("({a}) {b}-{c}"),
        format!("+1 {a} {b} {c}"),
        format!("1-{a}-{b}-{c}"),
        format!("{a}.{b}.{c}"),
        format!("+44 {} {} {}", d(r, 2), d(r, 4), d(r, 4)),
        format!(
            "+33 {} {} {} {} {}",
            d(r, 1),
            d(r, 2),
            d(r, 2),
            d(r, 2),
            d(r, 2)
        ),
        format!("{y}-{m:02}-{day:02}"),
        format!("{m:02}/{day:02}/{y}"),
        format!("{day:02}-{m:02}-{y}"),
        format!(
            "{y}-{m:02}-{day:02}T{:02}:{:02}:00Z",
            r.next(24),
            r.next(60)
        ),
        format!("{zip}-{plus4}"),
        format!("Springfield, IL {zip}-{plus4}"),
        format!("order {}-{}-{}", d(r, 4), d(r, 2), d(r, 4)),
        format!("PO-{a}-{}-{c}", d(r, 2)),
        format!("#{a}-{}-{}", d(r, 2), d(r, 5)),
        format!("ORD{a}{}{c}", d(r, 2)),
        format!(
            "Call {a}-{b}-{c} before {m:02}/{day:02}/{y}, ref {}-{}.",
            d(r, 6),
            d(r, 3)
        ),
    ]
}

#[test]
fn the_ssn_guard_has_no_false_positives_on_phones_dates_zips_and_orders() {
    let p = v(&json!("no_pii"));
    let mut r = Lcg(42);
    let mut checks = 0;
    while checks < 150_930 {
        for s in not_ssns(&mut r) {
            assert!(p.check(&s, &none()).is_empty(), "false positive: {s}");
            checks += 1;
        }
    }
    // The same guard still catches the real shape, alone and in text.
    for s in ["123-45-6789", "SSN: 078 05 1120.", "ssn=219-09-9999;"] {
        assert_eq!(p.check(s, &none()).len(), 1, "{s}");
    }
}
