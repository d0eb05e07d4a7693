//! The one HTTP error type: a status, a snake_case code and a sentence, rendered as
//! `{"error":{"code","message","request_id"}}`.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lakehouse_types::{ErrorBody, ErrorDetail};

use crate::request_id;

/// An error answer. Build it with the constructor named after the condition.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable tag.
    pub code: Cow<'static, str>,
    /// Human sentence.
    pub message: String,
    /// For a 409 `version_conflict`: the version a precondition should name.
    pub current_version: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $status:ident, $code:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Self {
                Self::new(StatusCode::$status, $code, message)
            }
        )*
    };
}

impl ApiError {
    /// Any status and code.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            current_version: None,
        }
    }

    /// Adds the current version to a precondition failure.
    pub fn with_current_version(mut self, v: u64) -> Self {
        self.current_version = Some(v);
        self
    }

    /// Replaces the code, keeping status and message.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = code.into();
        self
    }

    constructors! {
        /// 400: the input is wrong.
        bad_request => BAD_REQUEST, "bad_request";
        /// 401: missing or wrong token.
        unauthorized => UNAUTHORIZED, "unauthorized";
        /// 403: source address not allowed.
        forbidden => FORBIDDEN, "forbidden";
        /// 404.
        not_found => NOT_FOUND, "not_found";
        /// 409: conflicts with the current state.
        conflict => CONFLICT, "conflict";
        /// 413: body over the route's cap.
        payload_too_large => PAYLOAD_TOO_LARGE, "payload_too_large";
        /// 416.
        range_not_satisfiable => RANGE_NOT_SATISFIABLE, "range_not_satisfiable";
        /// 502: a dependency is down or answered garbage.
        bad_gateway => BAD_GATEWAY, "bad_gateway";
        /// 503: overloaded or not ready.
        unavailable => SERVICE_UNAVAILABLE, "unavailable";
        /// 504: a dependency was too slow.
        gateway_timeout => GATEWAY_TIMEOUT, "gateway_timeout";
    }

    /// 500: a bug. The detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the service log",
        )
    }

    /// The JSON body, with the current request id.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                request_id: request_id::current().unwrap_or_default(),
                current_version: self.current_version,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = self.status.as_u16(), code = %self.code, message = %self.message, "request failed");
        }
        (self.status, Json(self.body())).into_response()
    }
}

/// A dependency's answer as ours: its own refusal (a 4xx: unknown version, expired, bad
/// argument) passes through with its code and message; anything else is a 502 with `code`.
pub fn passthrough(
    e: lakehouse_client::ClientError,
    dependency: &str,
    code: &'static str,
) -> ApiError {
    match e {
        lakehouse_client::ClientError::Status {
            status,
            code: theirs,
            message,
            ..
        } if status.is_client_error() => ApiError::new(status, theirs, message),
        e => ApiError::bad_gateway(format!("{dependency}: {e}")).with_code(code),
    }
}

/// Snake-case code for a status produced outside our handlers (axum rejections, layers).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        412 => "precondition_failed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        416 => "range_not_satisfiable",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        502 => "bad_gateway",
        503 => "unavailable",
        504 => "gateway_timeout",
        s if s >= 500 => "internal",
        _ => "error",
    }
}
