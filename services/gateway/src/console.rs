//! The web console at `/console`: three static files compiled into the binary (no CDN, no
//! internet), a page that talks only to the public `/v1` API with the token the user pastes.
//! The files hold no data, so they are served without auth, with a strict content security
//! policy: scripts, styles and requests only from this origin, no framing, no referrer.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// A console file: `index.html`, `console.js` or `console.css`. No token needed: they hold no data.
#[utoipa::path(get, path = "/console/{name}", tag = "console", security(()), params(("name" = String, Path)),
    responses(
        (status = 200, description = "The file", content_type = "text/html", body = String),
        (status = 404, description = "No such console file", content_type = "text/plain", body = String),
    ))]
async fn file(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "" | "index.html" => asset(INDEX, "text/html; charset=utf-8"),
        "console.js" => asset(SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => asset(STYLE, "text/css; charset=utf-8"),
        _ => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

/// The console page.
#[utoipa::path(get, path = "/console/", tag = "console", security(()),
    responses((status = 200, description = "The console page", content_type = "text/html", body = String)))]
async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `/console` is the page's directory.
#[utoipa::path(get, path = "/console", tag = "console", security(()),
    responses((status = 308, description = "To `/console/`")))]
async fn to_index() -> Redirect {
    Redirect::permanent("/console/")
}

/// The console's routes, for the router and the document.
pub fn routes() -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(to_index))
        .routes(routes!(index))
        .routes(routes!(file))
}

/// The console's router.
pub fn router() -> Router {
    routes().split_for_parts().0
}
