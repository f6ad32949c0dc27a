//! The local relay (DESIGN §7): an HTTP server on loopback that serves the merged,
//! normalised stream over SSE with `Last-Event-ID` replay, JSON endpoints for the UI,
//! and the built UI itself. Nothing here writes to a monitored system; the few write
//! endpoints change Telltale's own config file and apply it live.
//!
//! | Endpoint                      | What                                             |
//! |-------------------------------|--------------------------------------------------|
//! | `GET /events`                 | SSE, `id: <seq>`; `Last-Event-ID` / `?since=`; filters `source`, `kind`, `entity`, `status` |
//! | `GET /api/jobs`               | the board's jobs: `status`, `source`, `queue`, `q`, `sort`, `order`, `offset`, `limit` |
//! | `GET /api/jobs/{id}/timeline` | one job's events across sources                  |
//! | `GET /api/queues`             | queues, counts over time (`from`), jobs by status |
//! | `GET /api/workers`            | workers                                          |
//! | `GET /api/sources`            | sources: live state, last error, last notice, config (secrets as references) |
//! | `POST /api/sources`           | add a source (body `SourceInput`), saved and started |
//! | `PUT /api/sources/{name}`     | edit, enable or disable a source; saved and restarted |
//! | `DELETE /api/sources/{name}`  | remove a source; saved and stopped               |
//! | `POST /api/sources/test`      | connect once with a `SourceInput`, report what arrives |
//! | `GET`/`PUT /api/rules`        | notification rules (`[notifications]`) and snooze |
//! | `GET /api/history`            | `q` full text, filters, `from`/`until`, `limit`  |
//! | `GET /api/export`             | `format=csv|json`, `q`, `from`, `until`, filters; streamed |
//! | `GET /api/health`             | hub, sources, relay                              |
//! | `GET /…`                      | the built UI (`ui/dist`), or a placeholder page  |
//!
//! Access control is in [`guard`] (writes take the token in the `Authorization` header
//! only); errors are JSON `{code, message}` ([`ApiError`]).

mod assets;
mod body;
mod error;
mod export;
mod guard;
mod history;
mod jobs;
mod params;
mod queues;
mod rate_limit;
mod rules;
mod source_edit;
mod source_input;
mod source_test;
mod source_view;
mod sse;
mod state;
mod status;
mod text_match;
mod token;

pub use error::{codes, ApiError};
pub use rate_limit::RateLimit;
pub use rules::LiveRules;
pub use token::{AccessToken, TokenError, TOKEN_FILE_NAME};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::Request;
use axum::routing::{get, post, put};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::Millis;

use crate::engine::{Engine, SourceStates};
use crate::hub::Hub;

/// How the relay behaves; [`RelayOptions::new`] gives the production defaults.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub token: AccessToken,
    /// A comment line sent on idle SSE streams so proxies and clients with idle
    /// timeouts keep the connection (DESIGN: every 15 s).
    pub heartbeat: Duration,
    /// The `retry:` hint: how soon an EventSource should reconnect.
    pub retry_hint: Duration,
    /// Larger request bodies are refused (only the write endpoints read one, a small
    /// JSON object).
    pub max_request_bytes: u64,
    pub rate_limit: RateLimit,
    /// The config file the write endpoints edit (`--config PATH`, `TELLTALE_CONFIG`
    /// or the default location; created 0600 if absent). `None`: sources and rules
    /// can be read but not changed.
    pub config_file: Option<PathBuf>,
}

impl RelayOptions {
    pub fn new(token: AccessToken) -> Self {
        RelayOptions {
            token,
            heartbeat: Duration::from_secs(15),
            retry_hint: Duration::from_secs(2),
            max_request_bytes: 16 * 1024,
            rate_limit: RateLimit::default(),
            config_file: None,
        }
    }
}

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    token: AccessToken,
    cancel: CancellationToken,
    task: JoinHandle<()>,
    rules: Arc<watch::Sender<LiveRules>>,
}

/// How long a shutdown waits for open requests (an export, say) before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Relay {
    /// Serves on an already-bound listener (tests bind port 0). Must be called inside
    /// a tokio runtime.
    pub fn start(
        listener: TcpListener,
        hub: Arc<Hub>,
        sources: SourceStates,
        opts: RelayOptions,
    ) -> std::io::Result<Relay> {
        Relay::serve(listener, hub, sources, None, opts)
    }

    fn serve(
        listener: TcpListener,
        hub: Arc<Hub>,
        sources: SourceStates,
        engine: Option<Engine>,
        opts: RelayOptions,
    ) -> std::io::Result<Relay> {
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let token = opts.token.clone();
        let rules = Arc::new(watch::Sender::new(LiveRules::from_file(
            opts.config_file.as_deref(),
        )));
        let shared: state::AppState = Arc::new(state::Shared::new(
            hub,
            sources,
            engine,
            opts.clone(),
            addr.port(),
            cancel.clone(),
            rules.clone(),
        ));
        let app = router(shared);
        let task = tokio::spawn(accept_loop(listener, app, cancel.clone()));
        tracing::info!(%addr, "relay listening");
        Ok(Relay {
            addr,
            token,
            cancel,
            task,
            rules,
        })
    }

    /// [`Relay::start`] with the engine's hub and source states; the write endpoints
    /// start and stop the engine's sources.
    pub fn for_engine(
        listener: TcpListener,
        engine: &Engine,
        opts: RelayOptions,
    ) -> std::io::Result<Relay> {
        Relay::serve(
            listener,
            engine.hub().clone(),
            engine.source_states().clone(),
            Some(engine.clone()),
            opts,
        )
    }

    /// The notification rules as edited through `PUT /api/rules` (starting from the
    /// config file's `[notifications]`), for whatever delivers notifications (the
    /// desktop shell) to follow.
    pub fn rules(&self) -> watch::Receiver<LiveRules> {
        self.rules.subscribe()
    }

    /// Records a snooze decided elsewhere (the tray menu), so `GET /api/rules` and
    /// every follower of [`Relay::rules`] see it. `None` ends it.
    pub fn set_snoozed_until(&self, until: Option<Millis>) {
        self.rules.send_modify(|r| r.snoozed_until = until);
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or `[::1]`), the origin clients should use; a relay
    /// bound to an unspecified address is still reached on loopback.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V6(v6) if v6.is_loopback() => IpAddr::V6(v6),
            IpAddr::V4(v4) if v4.is_loopback() => IpAddr::V4(v4),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The UI's address with the token, as `telltale serve` prints it.
    pub fn ui_url(&self) -> String {
        format!("{}/?token={}", self.base_url(), self.token.expose())
    }

    /// Ends every SSE stream, lets open requests finish (up to a grace period) and
    /// stops. The relay's hold on the hub is released when this returns.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("relay requests still open after the grace period; closing them");
            task.abort();
            let _ = task.await;
        }
    }
}

/// Accepts connections and serves each with hyper's HTTP/1 connection, what
/// `axum::serve` did minus protocol detection. `axum::serve` uses hyper-util's auto
/// builder, and with `http2` on in hyper-util (reqwest turns it on) every connection
/// first sniffs for an HTTP/2 preface and its task is sized for an HTTP/2 connection
/// too. Nothing speaks HTTP/2 to the relay: it is plain http on loopback, where
/// browsers (and EventSource) use HTTP/1.1. Per idle SSE client: 19.4 -> 12.6 KiB of
/// RSS (issue 8, load bench `idle`).
///
/// Like `axum::serve` with graceful shutdown: on `stop`, no more accepts, every
/// connection finishes its request in flight (SSE streams end on `stop` themselves),
/// and this returns once all connections are closed.
async fn accept_loop(mut listener: TcpListener, app: Router, stop: CancellationToken) {
    let http = hyper::server::conn::http1::Builder::new();
    let conns = tokio_util::task::TaskTracker::new();
    loop {
        let (tcp, remote) = tokio::select! {
            // axum's Listener impl logs and backs off on accept errors (EMFILE...).
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            _ = stop.cancelled() => break,
        };
        // Events are small and latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            // The guard reads the peer address through the ConnectInfo extractor.
            req.extensions_mut().insert(ConnectInfo(remote));
            tower_service::Service::call(&mut app.clone(), req)
        });
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let stop = stop.clone();
        conns.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::trace!(error = %e, "relay connection ended with an error");
                    }
                    return;
                }
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    conns.close();
    conns.wait().await;
}

fn router(shared: state::AppState) -> Router {
    Router::new()
        .route("/events", get(sse::events))
        .route("/api/jobs", get(jobs::list))
        .route("/api/jobs/{id}/timeline", get(jobs::timeline))
        .route("/api/queues", get(queues::list))
        .route("/api/workers", get(status::workers))
        .route("/api/sources", get(status::sources).post(source_edit::add))
        .route("/api/sources/test", post(source_test::test))
        .route(
            "/api/sources/{name}",
            put(source_edit::update).delete(source_edit::remove),
        )
        .route("/api/rules", get(rules::get_rules).put(rules::put_rules))
        .route("/api/history", get(history::search))
        .route("/api/export", get(export::export))
        .route("/api/health", get(status::health))
        .fallback(get(assets::serve))
        .layer(DefaultBodyLimit::max(
            shared.opts.max_request_bytes as usize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            guard::guard,
        ))
        .with_state(shared)
}
