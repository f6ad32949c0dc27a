//! The demo's SSE endpoint, `GET /events`, shaped like seed 004's stream:
//! `event: job_update` / `queue_update` / `worker_status`, JSON data, and `id:` set.
//!
//! Every connection plays the seed's stream on its own clock: without
//! `Last-Event-ID` from event 1, with it from the next event. Because the simulation
//! is deterministic, a reconnect (or a restart of the whole program) continues the
//! same stream with no gap and no repeat — which is what lets Telltale's ordinary SSE
//! source, with its saved cursor, treat the demo like any resumable server.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::simulation::{DemoEvent, Simulation};
use super::DemoOptions;
use crate::model::now_millis;

/// Resuming regenerates the stream up to the client's id; beyond this many events
/// (weeks of demo at the default rate) an id is treated as foreign.
const MAX_RESUME_ID: u64 = 50_000_000;
const CHUNK_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub(super) struct DemoState {
    pub opts: DemoOptions,
    pub cancel: CancellationToken,
}

pub(super) fn router(state: DemoState) -> Router {
    Router::new()
        .route("/events", get(events))
        .with_state(state)
}

async fn events(State(st): State<DemoState>, headers: HeaderMap) -> Response {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let after = match last.map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) if n <= MAX_RESUME_ID => n,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "Last-Event-ID is not an id of this demo stream\n",
            )
                .into_response();
        }
    };
    let seed = st.opts.seed;
    // Regenerating a long history takes a while: off the async workers.
    let prepared = tokio::task::spawn_blocking(move || {
        let mut sim = Simulation::new(seed);
        let mut base = 0;
        let mut first = sim.next_event();
        while first.id <= after {
            base = first.at_ms;
            first = sim.next_event();
        }
        (sim, first, base)
    })
    .await;
    let Ok((sim, first, base)) = prepared else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "demo simulation failed\n",
        )
            .into_response();
    };
    let play = Player {
        sim,
        next: first,
        base_ms: base,
        start: Instant::now(),
        speed: st.opts.speed,
        heartbeat: st.opts.heartbeat,
        last_write: Instant::now(),
        cancel: st.cancel.clone(),
        opened: false,
    };
    let body = Body::from_stream(stream::unfold(play, |mut p| async move {
        p.next_chunk().await.map(|b| (Ok::<_, Infallible>(b), p))
    }));
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

struct Player {
    sim: Simulation,
    next: DemoEvent,
    /// Simulated time of the point the client resumed from: it plays from "now".
    base_ms: u64,
    start: Instant,
    speed: f64,
    heartbeat: Duration,
    last_write: Instant,
    cancel: CancellationToken,
    opened: bool,
}

impl Player {
    fn due(&self, e: &DemoEvent) -> Instant {
        let sim = e.at_ms.saturating_sub(self.base_ms) as f64 / self.speed.max(1e-6);
        self.start + Duration::from_secs_f64(sim / 1000.0)
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.opened {
            self.opened = true;
            return Some(Bytes::from_static(b"retry: 1000\n: telltale demo\n\n"));
        }
        let due = self.due(&self.next);
        let beat = self.last_write + self.heartbeat;
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => None,
            _ = tokio::time::sleep_until(due) => {
                // Everything already due goes out together: at high speed the
                // stream is written in chunks, not one syscall per event.
                let mut out = Vec::with_capacity(1024);
                let now = Instant::now();
                while out.len() < CHUNK_BYTES && self.due(&self.next) <= now {
                    write(&mut out, &self.next);
                    self.next = self.sim.next_event();
                }
                self.last_write = now;
                Some(Bytes::from(out))
            }
            _ = tokio::time::sleep_until(beat) => {
                self.last_write = Instant::now();
                Some(Bytes::from_static(b": heartbeat\n\n"))
            }
        }
    }
}

fn write(out: &mut Vec<u8>, e: &DemoEvent) {
    let mut data = e.data.clone();
    data["timestamp"] = serde_json::json!(now_millis());
    out.extend_from_slice(
        format!("event: {}\nid: {}\ndata: {}\n\n", e.name, e.id, data).as_bytes(),
    );
}
