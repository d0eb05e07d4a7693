//! The public API's OpenAPI 3.1 document. Every service describes its own routes from the same
//! registrations that build its router (each service crate's `openapi()`); [`document`]
//! assembles them under `/v1` with the gateway's own routes and the shared probes, and adds
//! what every route shares (bearer auth and the errors of the middleware stack). The gateway
//! serves the assembled document, kept in `openapi.json`; the test suite assembles it afresh
//! and fails when the file differs, so the document cannot drift from the handlers.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa::openapi::OpenApiBuilder;
use utoipa::openapi::info::InfoBuilder;

/// The assembled document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "fleet",
    responses((status = 200, description = "The OpenAPI 3.1 document of every public route", body = Object)))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

/// `POST /v1/embeddings`, forwarded to the configured OpenAI-compatible embedding server.
#[utoipa::path(post, path = "/v1/embeddings", tag = "models",
    request_body(content = Object, description = "An OpenAI embeddings request: `model`, `input`"),
    responses(
        (status = 200, description = "The model server's answer, as it sent it", body = Object),
        (status = 503, description = "`not_configured`: no `[embed] url`", body = lakehouse_types::ErrorBody),
    ))]
#[allow(dead_code)] // Describes a forwarded route; the proxy serves it.
fn embeddings() {}

/// `POST /v1/chat/completions`, forwarded to the configured OpenAI-compatible chat server.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "models",
    request_body(content = Object, description = "An OpenAI chat completions request: `model`, `messages`"),
    responses(
        (status = 200, description = "The model server's answer, as it sent it", body = Object),
        (status = 503, description = "`not_configured`: no `[chat] url`", body = lakehouse_types::ErrorBody),
    ))]
#[allow(dead_code)] // Describes a forwarded route; the proxy serves it.
fn chat_completions() {}

#[derive(OpenApi)]
#[openapi(paths(embeddings, chat_completions))]
struct ModelRoutes;

/// The gateway's own described routes: fleet health, this document, the model pass-throughs
/// and the console.
pub fn gateway_openapi() -> utoipa::openapi::OpenApi {
    let mut doc = crate::own_routes().into_openapi();
    doc.merge(ModelRoutes::openapi());
    doc.merge(crate::console::routes().into_openapi());
    doc
}

/// The whole document: `services` (each one's `openapi()`, paths without `/v1`) under `/v1`,
/// the gateway's routes and the probes every service answers.
pub fn document(services: Vec<utoipa::openapi::OpenApi>) -> Value {
    let info = InfoBuilder::new()
        .title("Lakehouse")
        .version(crate::VERSION)
        .description(Some(
            "The public API of a Lakehouse fleet, through its gateway. Every route but \
             /health and /ready takes `Authorization: Bearer <token>`; errors are \
             `{\"error\": {\"code\", \"message\", \"request_id\"}}` (the Iceberg routes use \
             the Iceberg REST error model). docs/api.md is the prose reference.",
        ))
        .build();
    let mut doc = OpenApiBuilder::new().info(info).build();
    for s in services {
        doc = doc.nest("/v1", s);
    }
    doc.merge(gateway_openapi());
    doc.merge(lakehouse_common::server::shared_openapi());
    let mut v = serde_json::to_value(&doc).unwrap_or_default();
    finish(&mut v);
    v
}

/// What the middleware stack answers on any route, beyond what each handler declares.
const SHARED_ERRORS: [(&str, &str); 8] = [
    ("400", "`bad_request`: a malformed path, query or body"),
    (
        "401",
        "`unauthorized`: no token, or not a token of this fleet",
    ),
    (
        "403",
        "`forbidden`: the token's role or scope does not cover this, or the source address is not allowed",
    ),
    ("404", "`not_found`"),
    (
        "408",
        "`request_timeout`: the request was not received in time",
    ),
    (
        "502",
        "`upstream_unavailable`, `upstream_error`: the service behind the gateway is down",
    ),
    ("503", "`unavailable`, `not_ready`: overloaded or starting"),
    (
        "504",
        "`upstream_timeout`, `gateway_timeout`: the service took too long",
    ),
];

fn finish(doc: &mut Value) {
    // axum's catch-all `{*key}` is OpenAPI's `{key}` (the key may hold `/`).
    if let Some(paths) = doc["paths"].as_object_mut() {
        let renamed: Map<String, Value> = std::mem::take(paths)
            .into_iter()
            .map(|(p, item)| (p.replace("{*", "{"), item))
            .collect();
        *paths = renamed;
        for item in paths.values_mut() {
            for (method, op) in item.as_object_mut().into_iter().flatten() {
                if !matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "delete" | "head" | "patch"
                ) {
                    continue;
                }
                add_shared_errors(op);
            }
        }
    }
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "The fleet token, or a named client token"}
    });
    doc["security"] = json!([{"bearer": []}]);
}

fn add_shared_errors(op: &mut Value) {
    let public = op["security"] == json!([{}]);
    let has_body = op.get("requestBody").is_some();
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for (status, description) in SHARED_ERRORS {
        if public && matches!(status, "401" | "403") || responses.contains_key(status) {
            continue;
        }
        responses.insert(
            status.to_owned(),
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            }),
        );
    }
    if has_body && !responses.contains_key("413") {
        responses.insert(
            "413".into(),
            json!({
                "description": "`payload_too_large`: the body is over the route's cap",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_document_parses_and_names_its_version() {
        let v: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(v["openapi"], "3.1.0");
        assert_eq!(v["info"]["version"], crate::VERSION);
    }

    #[test]
    fn wildcards_become_parameters_and_errors_are_shared() {
        let mut doc = json!({"paths": {
            "/v1/storage/objects/{*key}": {"get": {"responses": {"200": {"description": "x"}}}},
            "/health": {"get": {"security": [{}], "responses": {"200": {"description": "x"}}}}
        }});
        finish(&mut doc);
        let get = &doc["paths"]["/v1/storage/objects/{key}"]["get"]["responses"];
        assert!(get["401"].is_object() && get["504"].is_object());
        let health = &doc["paths"]["/health"]["get"]["responses"];
        assert!(health["401"].is_null(), "a public route needs no token");
        assert!(health["503"].is_object());
    }
}
