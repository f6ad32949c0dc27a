//! Errors as the relay's clients see them: an HTTP status and a JSON body
//! `{"code": "...", "message": "..."}`. Codes are stable (the UI and scripts match on
//! them); messages are for people and may change.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// One refused or failed request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds, rounded up) on 429 and 503.
    pub retry_after: Option<std::time::Duration>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

/// An error inside a successful answer (`POST /api/sources/test` reports the
/// source's failure this way), shaped like every error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
}

impl ApiErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiErrorBody {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            retry_after: None,
            message: message.into(),
        }
    }

    pub fn bad_param(name: &str, why: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_PARAM,
            format!("query parameter `{name}`: {why}"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, message)
    }
}

/// The stable codes. Store failures use [`StoreError::code`] (`disk_full`, `store`, ...).
pub mod codes {
    pub const TOKEN_MISSING: &str = "token_missing";
    pub const TOKEN_INVALID: &str = "token_invalid";
    pub const FORBIDDEN_PEER: &str = "forbidden_peer";
    pub const FORBIDDEN_HOST: &str = "forbidden_host";
    pub const FORBIDDEN_ORIGIN: &str = "forbidden_origin";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const URI_TOO_LONG: &str = "uri_too_long";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const BAD_PARAM: &str = "bad_param";
    pub const NOT_FOUND: &str = "not_found";
    pub const JOB_NOT_FOUND: &str = "job_not_found";
    pub const SHUTTING_DOWN: &str = "shutting_down";
    pub const INTERNAL: &str = "internal";
    /// A write presented its token only in the query string.
    pub const TOKEN_IN_QUERY: &str = "token_in_query";
    pub const BAD_BODY: &str = "bad_body";
    /// The edit would make the config file invalid; the message lists every problem.
    pub const INVALID_CONFIG: &str = "invalid_config";
    pub const SOURCE_EXISTS: &str = "source_exists";
    pub const SOURCE_NOT_FOUND: &str = "source_not_found";
    pub const NO_CONFIG_FILE: &str = "no_config_file";
    pub const NO_ENGINE: &str = "no_engine";
    pub const CONFIG_FILE: &str = "config_file";
    /// No OS keychain here (headless machine, no Secret Service): use an env reference.
    pub const KEYCHAIN_UNAVAILABLE: &str = "keychain_unavailable";
    pub const KEYCHAIN: &str = "keychain";
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::BadQuery(_) => StatusCode::BAD_REQUEST,
            // The history is temporarily unwritable or unreadable: retry later.
            StoreError::DiskFull(_) | StoreError::Sqlite(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("a background read failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body {
            code: self.code,
            message: &self.message,
        })
        .unwrap_or_else(|_| b"{\"code\":\"internal\",\"message\":\"\"}".to_vec());
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(wait) = self.retry_after {
            let secs = wait.as_millis().div_ceil(1000).max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell clients which scheme the token goes in.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"telltale\""),
            );
        }
        resp
    }
}
