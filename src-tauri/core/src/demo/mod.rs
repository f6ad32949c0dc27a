//! The demo source (DESIGN §5): a simulated job system — four queues, a handful of
//! workers, jobs that move through stages, fail with realistic errors and are
//! retried — served as an SSE endpoint on loopback in the shape of seed 004, so the
//! engine consumes it as an ordinary SSE source and a first run shows a live board.
//!
//! It is seeded and deterministic: the same seed always produces the same jobs in
//! the same order, and the stream resumes exactly after any `Last-Event-ID`.

mod catalog;
mod rng;
mod server;
mod simulation;

pub use simulation::{DemoEvent, Simulation};

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The seed `telltale demo` uses, so every first run shows the same story.
pub const DEFAULT_SEED: u64 = 4;
/// The source name the demo is added under.
pub const SOURCE_NAME: &str = "demo";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// Simulated seconds per real second: 1 is a gentle few events per second; tests
    /// use hundreds.
    pub speed: f64,
    /// Comment lines on a quiet stream (seed 004's server sends one every 30 s).
    pub heartbeat: Duration,
}

impl DemoOptions {
    pub fn new(seed: u64) -> Self {
        DemoOptions {
            seed,
            speed: 1.0,
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// A running demo server.
pub struct DemoServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl DemoServer {
    /// Serves the demo with `seed` at the default speed on an already-bound listener.
    pub fn start(listener: TcpListener, seed: u64) -> std::io::Result<DemoServer> {
        DemoServer::start_with(listener, DemoOptions::new(seed))
    }

    pub fn start_with(listener: TcpListener, opts: DemoOptions) -> std::io::Result<DemoServer> {
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let app = server::router(server::DemoState {
            opts,
            cancel: cancel.clone(),
        });
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "the demo server stopped");
            }
        });
        tracing::debug!(%addr, "demo source listening");
        Ok(DemoServer { addr, cancel, task })
    }

    /// The SSE URL to add as a source: `http://127.0.0.1:PORT/events`.
    pub fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(self) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}
