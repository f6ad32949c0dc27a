//! The built UI (`ui/dist`), embedded in the binary so `telltale serve` is one file.
//!
//! `allow_missing` lets the crate build before the UI exists; then `/` answers with a
//! small page saying so and listing the API. Paths without a file extension fall back
//! to `index.html`, so the UI's client-side routes survive a reload.
//!
//! In debug builds rust-embed reads the folder at run time; in release builds the
//! files are compiled in (rebuild the crate after rebuilding the UI).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Ui;

pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        return ApiError::not_found(format!("no endpoint {}", uri.path())).into_response();
    }
    let wanted = if path.is_empty() { "index.html" } else { path };
    if let Some(resp) = file(wanted) {
        return resp;
    }
    // `/` and extension-less paths are the UI's routes; `app.js` is a file.
    let is_route = !path.rsplit('/').next().unwrap_or("").contains('.');
    if is_route {
        if let Some(resp) = file("index.html") {
            return resp;
        }
        if path.is_empty() {
            return placeholder();
        }
    }
    ApiError::not_found(format!("no file {}", uri.path())).into_response()
}

fn file(path: &str) -> Option<Response> {
    let f = Ui::get(path)?;
    let mut resp = Response::new(Body::from(f.data.into_owned()));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(f.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Vite names assets by content hash: they can be cached for good. The page itself
    // must be revalidated so a new build is picked up.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(resp)
}

/// Shown at `/` when the binary was built without the UI.
fn placeholder() -> Response {
    const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Telltale relay</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body>
<h1>Telltale relay</h1>
<p>The web UI is not built into this binary. Build it with <code>npm ci &amp;&amp; npm run build</code>
in <code>ui/</code>, then rebuild Telltale. The relay and its API work without it.</p>
<p>Every request needs the access token: <code>Authorization: Bearer TOKEN</code> or <code>?token=TOKEN</code>.</p>
<ul>
<li><code>GET /events</code> — live events as Server-Sent Events (<code>id</code> = seq; replay with <code>Last-Event-ID</code> or <code>?since=SEQ</code>; filters <code>source</code>, <code>kind</code>, <code>entity</code>, <code>status</code>)</li>
<li><code>GET /api/jobs</code> — jobs on the board (<code>status</code>, <code>source</code>, <code>queue</code>, <code>q</code>, <code>sort</code>, <code>order</code>, <code>offset</code>, <code>limit</code>)</li>
<li><code>GET /api/jobs/{id}/timeline</code> — one job's events</li>
<li><code>GET /api/queues</code> — queues with counts over time</li>
<li><code>GET /api/workers</code> — workers</li>
<li><code>GET /api/sources</code> — sources and their connection state</li>
<li><code>GET /api/history</code> — search (<code>q</code>, filters, <code>from</code>, <code>until</code>, <code>limit</code>)</li>
<li><code>GET /api/export?format=csv|json&amp;from=&amp;until=</code> — a window of history as a file</li>
<li><code>GET /api/health</code> — store and source health</li>
</ul>
</body></html>
"#;
    let mut resp = (StatusCode::OK, PAGE).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
