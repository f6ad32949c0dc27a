//! Access control, applied to every request before any handler runs (DESIGN §7,
//! issue 9 item 4), in this order:
//!
//! 1. the peer must be a loopback address (even if someone binds 0.0.0.0);
//! 2. `Host` must name the loopback address and our port: a DNS-rebinding page
//!    reaches us under its own host name and is refused here;
//! 3. `Origin`, when sent, must be our own origin or the desktop shell's;
//! 4. a global rate limit, a request size limit; GET/HEAD anywhere, and POST, PUT or
//!    DELETE only on the few endpoints that edit Telltale's own config
//!    ([`write_allowed`]);
//! 5. CORS preflights from an allowed origin are answered without a token (browsers
//!    never send credentials on a preflight);
//! 6. the token: `Authorization: Bearer`, or `?token=` because EventSource cannot
//!    send headers. For the UI's static files only, a cookie set when the page was
//!    opened with `?token=` also counts: a browser fetches the page's scripts and
//!    styles without the query string. Writes take the header only: a token in a URL
//!    ends up in histories and logs, and a page that can make a browser follow a link
//!    must not be able to change anything with it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{codes, ApiError};
use super::state::AppState;

/// Origins of the desktop shell's webview (macOS/Linux, then Windows).
const SHELL_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];
const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];
const MAX_URI: usize = 8 * 1024;

pub(crate) async fn guard(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    match check(&s, peer, &req) {
        Ok(Access::Preflight(origin)) => preflight(&origin),
        Ok(Access::Granted { origin, set_cookie }) => {
            let is_api = is_data_path(req.uri().path());
            let mut resp = next.run(req).await;
            decorate(&mut resp, origin.as_deref(), is_api);
            if set_cookie && resp.status().is_success() {
                let cookie = format!(
                    "{}={}; Path=/; HttpOnly; SameSite=Strict",
                    cookie_name(s.port),
                    s.opts.token.expose()
                );
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(e) => {
            if e.status != StatusCode::TOO_MANY_REQUESTS {
                // Path only: the query may carry the token.
                tracing::debug!(code = e.code, path = req.uri().path(), %peer, "request refused");
            }
            let mut resp = e.into_response();
            decorate(&mut resp, None, true);
            resp
        }
    }
}

enum Access {
    Preflight(String),
    Granted {
        origin: Option<String>,
        set_cookie: bool,
    },
}

fn check(s: &AppState, peer: SocketAddr, req: &Request) -> Result<Access, ApiError> {
    if !peer.ip().to_canonical().is_loopback() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN_PEER,
            "the relay serves this machine only (loopback peers)",
        ));
    }
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| host_allowed(h, s.port)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN_HOST,
            format!(
                "the Host header must be 127.0.0.1:{p}, localhost:{p} or [::1]:{p}",
                p = s.port
            ),
        ));
    }
    let origin = match headers.get(header::ORIGIN) {
        None => None,
        Some(v) => match v.to_str().ok().filter(|o| origin_allowed(o, s.port)) {
            Some(o) => Some(o.to_string()),
            None => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    codes::FORBIDDEN_ORIGIN,
                    "requests from other web origins are refused",
                ))
            }
        },
    };
    if let Err(wait) = s.limiter.check() {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            format!("too many requests; retry in {} ms", wait.as_millis().max(1)),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    check_size(req, s.opts.max_request_bytes)?;
    if req.method() == Method::OPTIONS {
        if let (Some(o), true) = (
            &origin,
            headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD),
        ) {
            return Ok(Access::Preflight(o.clone()));
        }
    }
    let path = req.uri().path();
    let is_write = req.method() != Method::GET && req.method() != Method::HEAD;
    if is_write && !write_allowed(req.method(), path) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served here; POST, PUT and DELETE are for /api/sources and /api/rules",
        ));
    }
    if is_write {
        return match bearer(headers) {
            Some(t) if s.opts.token.verify(t.as_bytes()) => Ok(Access::Granted {
                origin,
                set_cookie: false,
            }),
            Some(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::TOKEN_INVALID,
                "the access token is not valid for this relay",
            )),
            None if query_token(req.uri().query()).is_some() => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::TOKEN_IN_QUERY,
                "changes need the token in the `Authorization: Bearer TOKEN` header; a ?token= in the URL is accepted for reading only",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::TOKEN_MISSING,
                "an access token is required: `Authorization: Bearer TOKEN`",
            )),
        };
    }
    let from_query = query_token(req.uri().query());
    let presented = bearer(headers)
        .map(|t| t.to_string())
        .or_else(|| from_query.clone())
        .or_else(|| {
            (!is_data_path(path))
                .then(|| cookie(headers, &cookie_name(s.port)))
                .flatten()
        });
    match presented {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_MISSING,
            "an access token is required: `Authorization: Bearer TOKEN` or `?token=TOKEN` (telltale serve prints a URL with it)",
        )),
        Some(t) if !s.opts.token.verify(t.as_bytes()) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_INVALID,
            "the access token is not valid for this relay",
        )),
        Some(_) => Ok(Access::Granted {
            origin,
            set_cookie: from_query.is_some() && !is_data_path(path),
        }),
    }
}

fn check_size(req: &Request, max: u64) -> Result<(), ApiError> {
    if req.uri().to_string().len() > MAX_URI {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            codes::URI_TOO_LONG,
            format!("the request URI is longer than {MAX_URI} bytes"),
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("request bodies over {max} bytes are refused"),
        )
    };
    // A chunked body has no declared size; the only bodies read here are small JSON
    // objects that clients send with a length, so refuse it
    // rather than let it be buffered somewhere below us.
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        return Err(too_large());
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if declared > max {
        return Err(too_large());
    }
    Ok(())
}

/// The only requests that change anything: edits of Telltale's own sources and rules
/// (and a connection test, which changes nothing but is a POST with a body).
fn write_allowed(method: &Method, path: &str) -> bool {
    let source_item = path
        .strip_prefix("/api/sources/")
        .is_some_and(|name| !name.is_empty() && !name.contains('/') && name != "test");
    match *method {
        Method::POST => path == "/api/sources" || path == "/api/sources/test",
        Method::PUT => path == "/api/rules" || source_item,
        Method::DELETE => source_item,
        _ => false,
    }
}

/// `/events` and `/api/...` carry data: only a header or the query can unlock them.
fn is_data_path(path: &str) -> bool {
    path == "/events" || path == "/api" || path.starts_with("/api/")
}

pub(crate) fn host_allowed(host: &str, port: u16) -> bool {
    let host = host.trim().to_ascii_lowercase();
    LOOPBACK_NAMES.iter().any(|n| {
        host.strip_prefix(n)
            .is_some_and(|rest| rest == format!(":{port}") || (rest.is_empty() && port == 80))
    })
}

pub(crate) fn origin_allowed(origin: &str, port: u16) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    if SHELL_ORIGINS.contains(&origin.as_str()) {
        return true;
    }
    origin
        .strip_prefix("http://")
        .is_some_and(|host| host_allowed(host, port))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Per port, so two relays on one machine (two users, two profiles) do not clobber
/// each other's cookie: browsers do not separate cookies by port.
fn cookie_name(port: u16) -> String {
    format!("telltale_token_{port}")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn preflight(origin: &str) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, last-event-id, cache-control"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// CORS for the allowed origin, and headers that keep tokens out of referrers and
/// data out of caches.
fn decorate(resp: &mut Response, origin: Option<&str>, is_api: bool) {
    let h = resp.headers_mut();
    if let Some(v) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        assert!(host_allowed("127.0.0.1:7412", 7412));
        assert!(host_allowed("LOCALHOST:7412", 7412));
        assert!(host_allowed("[::1]:7412", 7412));
        assert!(!host_allowed("127.0.0.1:7413", 7412));
        assert!(!host_allowed("evil.example:7412", 7412));
        assert!(!host_allowed("127.0.0.1", 7412));
        assert!(!host_allowed("127.0.0.1:7412.evil.example", 7412));
        assert!(host_allowed("localhost", 80));
        assert!(origin_allowed("tauri://localhost", 7412));
        assert!(origin_allowed("http://tauri.localhost", 7412));
        assert!(origin_allowed("http://127.0.0.1:7412", 7412));
        assert!(!origin_allowed("https://127.0.0.1:7412", 7412));
        assert!(!origin_allowed("http://evil.example", 7412));
        assert!(!origin_allowed("null", 7412));
    }

    #[test]
    fn tokens_are_found_in_header_query_and_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(query_token(Some("a=1&token=x%2By")).as_deref(), Some("x+y"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; telltale_token_9=zz"),
        );
        assert_eq!(cookie(&h, "telltale_token_9").as_deref(), Some("zz"));
        assert!(is_data_path("/api/jobs") && is_data_path("/events") && !is_data_path("/apixyz"));
    }

    #[test]
    fn writes_only_on_the_edit_endpoints() {
        assert!(write_allowed(&Method::POST, "/api/sources"));
        assert!(write_allowed(&Method::POST, "/api/sources/test"));
        assert!(write_allowed(&Method::PUT, "/api/sources/api"));
        assert!(write_allowed(&Method::DELETE, "/api/sources/a%2Fb"));
        assert!(write_allowed(&Method::PUT, "/api/rules"));
        assert!(!write_allowed(&Method::DELETE, "/api/sources/test"));
        assert!(!write_allowed(&Method::PUT, "/api/sources"));
        assert!(!write_allowed(&Method::POST, "/api/jobs"));
        assert!(!write_allowed(&Method::DELETE, "/api/sources/a/b"));
        assert!(!write_allowed(&Method::PATCH, "/api/rules"));
        assert!(!write_allowed(&Method::POST, "/events"));
    }
}
