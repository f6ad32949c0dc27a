//! The local relay (DESIGN §7): an HTTP server on loopback that serves the merged,
//! normalised stream over SSE with `Last-Event-ID` replay, JSON endpoints for the UI,
//! and the built UI itself. It only reads: nothing here writes to a monitored system.
//!
//! | Endpoint                      | What                                             |
//! |-------------------------------|--------------------------------------------------|
//! | `GET /events`                 | SSE, `id: <seq>`; `Last-Event-ID` / `?since=`; filters `source`, `kind`, `entity`, `status` |
//! | `GET /api/jobs`               | the board's jobs: `status`, `source`, `queue`, `q`, `sort`, `order`, `offset`, `limit` |
//! | `GET /api/jobs/{id}/timeline` | one job's events across sources                  |
//! | `GET /api/queues`             | queues, counts over time (`from`), jobs by status |
//! | `GET /api/workers`            | workers                                          |
//! | `GET /api/sources`            | sources: live state, last error, last notice     |
//! | `GET /api/history`            | `q` full text, filters, `from`/`until`, `limit`  |
//! | `GET /api/export`             | `format=csv|json`, `from`, `until`, filters; streamed |
//! | `GET /api/health`             | hub, sources, relay                              |
//! | `GET /…`                      | the built UI (`ui/dist`), or a placeholder page  |
//!
//! Access control is in [`guard`]; errors are JSON `{code, message}` ([`ApiError`]).

mod assets;
mod error;
mod export;
mod guard;
mod history;
mod jobs;
mod params;
mod queues;
mod rate_limit;
mod sse;
mod state;
mod status;
mod token;

pub use error::{codes, ApiError};
pub use rate_limit::RateLimit;
pub use token::{AccessToken, TokenError, TOKEN_FILE_NAME};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
    /// Larger request bodies are refused (nothing here reads a body).
    pub max_request_bytes: u64,
    pub rate_limit: RateLimit,
}

impl RelayOptions {
    pub fn new(token: AccessToken) -> Self {
        RelayOptions {
            token,
            heartbeat: Duration::from_secs(15),
            retry_hint: Duration::from_secs(2),
            max_request_bytes: 16 * 1024,
            rate_limit: RateLimit::default(),
        }
    }
}

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    token: AccessToken,
    cancel: CancellationToken,
    task: JoinHandle<()>,
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
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let token = opts.token.clone();
        let shared: state::AppState = Arc::new(state::Shared::new(
            hub,
            sources,
            opts.clone(),
            addr.port(),
            cancel.clone(),
        ));
        let app = router(shared);
        let listener = listener.tap_io(|tcp| {
            // Events are small and latency matters more than packet count.
            let _ = tcp.set_nodelay(true);
        });
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the relay stopped");
            }
        });
        tracing::info!(%addr, "relay listening");
        Ok(Relay {
            addr,
            token,
            cancel,
            task,
        })
    }

    /// [`Relay::start`] with the engine's hub and source states.
    pub fn for_engine(
        listener: TcpListener,
        engine: &Engine,
        opts: RelayOptions,
    ) -> std::io::Result<Relay> {
        Relay::start(
            listener,
            engine.hub().clone(),
            engine.source_states().clone(),
            opts,
        )
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

fn router(shared: state::AppState) -> Router {
    Router::new()
        .route("/events", get(sse::events))
        .route("/api/jobs", get(jobs::list))
        .route("/api/jobs/{id}/timeline", get(jobs::timeline))
        .route("/api/queues", get(queues::list))
        .route("/api/workers", get(status::workers))
        .route("/api/sources", get(status::sources))
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
