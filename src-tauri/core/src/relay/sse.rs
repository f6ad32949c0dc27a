//! `GET /events`: the merged, normalised stream as Server-Sent Events.
//!
//! Each client owns one [`Subscription`], which replays from the store after the
//! client's position and then follows the broadcast, falling back to store reads
//! whenever it lags. So the relay never queues events for a client: it holds at most
//! the one batch it is writing, and asks for the next only when hyper has taken the
//! last chunk (hyper pulls body chunks only as the socket drains). A slow client costs
//! latency for itself and one batch of memory, never data, and never slows others.
//!
//! Every client writes the same bytes for an event, so the frame (`id:` + `data:`
//! JSON) is encoded once per hub and shared through a small cache of the newest
//! frames ([`FrameCache`]): with 100 clients, per-client JSON encoding was 60% of the
//! relay's CPU (callgrind, issue 8).

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use futures_util::stream;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::hub::{EventBatch, Hub, Subscription};
use crate::model::Event;
use crate::store::StoreError;

use super::error::ApiError;
use super::params::Params;
use super::state::{AppState, ClientGuard};

/// A chunk is handed to hyper once it holds about this much: big enough for
/// throughput, small enough that a slow socket does not pin a large buffer.
const CHUNK_BYTES: usize = 32 * 1024;

type Fetch =
    Pin<Box<dyn Future<Output = (Subscription, Result<Option<EventBatch>, StoreError>)> + Send>>;

pub(crate) async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref());
    let mut filter = params.event_filter()?;
    // The stream is about seq, not time windows; `from`/`until` would make "after
    // seq N" ambiguous on reconnect.
    filter.from = None;
    filter.until = None;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    // A reconnecting EventSource sends Last-Event-ID with the URL it first used, so the
    // header wins over `?since=`. With neither, the stream starts at "now".
    let after = match last_event_id {
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::bad_param("Last-Event-ID", format!("expected an event seq, got {v:?}"))
        })?,
        None => match params.u64("since")? {
            Some(n) => n,
            None => s.hub.health().last_seq,
        },
    };
    let sub = s.hub.subscribe(after, filter);
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + s.opts.heartbeat, s.opts.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let client = Client {
        frames: FrameCache::for_hub(&s.hub),
        fetch: Some(fetch(sub)),
        pending: None,
        heartbeat,
        cancel: s.cancel.clone(),
        opening: Some(opening(s.opts.retry_hint, after)),
        done: false,
        _guard: s.client_guard(),
    };
    tracing::debug!(after, "SSE client connected");
    let body = Body::from_stream(stream::unfold(client, |mut c| async move {
        c.next_chunk()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), c))
    }));
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies in front of a relay (nginx) must not buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

fn fetch(mut sub: Subscription) -> Fetch {
    Box::pin(async move {
        let r = sub.next_batch().await;
        (sub, r)
    })
}

fn opening(retry: Duration, after: u64) -> Bytes {
    Bytes::from(format!(
        "retry: {}\n: telltale relay; events after seq {after}\n\n",
        retry.as_millis()
    ))
}

struct Client {
    frames: Arc<FrameCache>,
    /// The pending read of the next batch; kept across heartbeats so a tick never
    /// interrupts a store read halfway.
    fetch: Option<Fetch>,
    /// The batch being written and the index of its next event.
    pending: Option<(EventBatch, usize)>,
    heartbeat: Interval,
    cancel: tokio_util::sync::CancellationToken,
    opening: Option<Bytes>,
    done: bool,
    _guard: ClientGuard,
}

impl Client {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(b) = self.opening.take() {
            return Some(b);
        }
        if self.done {
            return None;
        }
        loop {
            if let Some((batch, next)) = &mut self.pending {
                if *next < batch.len() {
                    self.heartbeat.reset();
                    return Some(self.frames.encode(batch, next));
                }
                self.pending = None;
            }
            let pending_read = self.fetch.as_mut()?;
            let step = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => Step::Stop,
                (sub, result) = pending_read => Step::Fetched(sub, result),
                _ = self.heartbeat.tick() => Step::Heartbeat,
            };
            match step {
                Step::Stop => return None,
                Step::Heartbeat => return Some(Bytes::from_static(b": heartbeat\n\n")),
                Step::Fetched(sub, Ok(Some(batch))) => {
                    self.pending = Some((batch, 0));
                    // Created now, but does nothing until polled: the next read starts
                    // only once this batch is written (see the module doc).
                    self.fetch = Some(fetch(sub));
                }
                Step::Fetched(_, Ok(None)) => return None, // the hub stopped
                Step::Fetched(_, Err(e)) => {
                    // The client reconnects with Last-Event-ID and resumes.
                    tracing::warn!(error = %e, "SSE client: reading the history failed; closing the stream");
                    self.done = true;
                    self.fetch = None;
                    return Some(error_event(&e));
                }
            }
        }
    }
}

// Lives on the stack for one step only; boxing the subscription would cost an
// allocation per batch for nothing.
#[allow(clippy::large_enum_variant)]
enum Step {
    Stop,
    Heartbeat,
    Fetched(Subscription, Result<Option<EventBatch>, StoreError>),
}

/// Frames kept per hub: enough for every live client to find the batch it is
/// writing (a live batch is a few hundred events at 10k/s), small enough to cost a
/// few MB at most. A client further behind encodes its own frames.
const CACHED_FRAMES: usize = 4096;

/// The newest encoded frames of one hub, in seq order, shared by all its clients.
///
/// Keyed by seq: a seq names one immutable event for the life of a hub (seqs only
/// grow while it runs), and every client writes the whole event whatever its filter,
/// so the bytes are the same for all of them.
#[derive(Default)]
struct FrameCache {
    frames: Mutex<VecDeque<(u64, Bytes)>>,
}

/// One cache per live hub. Each entry holds a `Weak` to its hub, which keeps the
/// hub's allocation (so its address) from being reused while the entry exists: a
/// new hub can never be handed an old hub's frames.
static CACHES: Mutex<Vec<(Weak<Hub>, Arc<FrameCache>)>> = Mutex::new(Vec::new());

impl FrameCache {
    fn for_hub(hub: &Arc<Hub>) -> Arc<FrameCache> {
        let mut all = CACHES.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|(h, _)| h.strong_count() > 0);
        if let Some((_, c)) = all
            .iter()
            .find(|(h, _)| std::ptr::eq(h.as_ptr(), Arc::as_ptr(hub)))
        {
            return c.clone();
        }
        let c = Arc::new(FrameCache::default());
        all.push((Arc::downgrade(hub), c.clone()));
        c
    }

    fn get(&self, seq: u64) -> Option<Bytes> {
        let frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        frames
            .binary_search_by_key(&seq, |(s, _)| *s)
            .ok()
            .map(|i| frames[i].1.clone())
    }

    /// Only newer frames are kept: a client catching up on old history must not
    /// push out the frames the live clients are about to need.
    fn put(&self, seq: u64, frame: &Bytes) {
        let mut frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        if frames.back().is_none_or(|(last, _)| *last < seq) {
            frames.push_back((seq, frame.clone()));
            if frames.len() > CACHED_FRAMES {
                frames.pop_front();
            }
        }
    }

    /// Encodes events from `batch[*next]` on until the chunk is full or the batch
    /// ends, moving `next` past them. The lock is taken per event and never held
    /// while encoding, so clients on other threads wait at most for a lookup.
    fn encode(&self, batch: &EventBatch, next: &mut usize) -> Bytes {
        let mut out = BytesMut::with_capacity(CHUNK_BYTES + 1024);
        while let Some(e) = batch.get(*next) {
            *next += 1;
            let frame = match self.get(e.seq) {
                Some(f) => f,
                None => {
                    let f = frame(e);
                    self.put(e.seq, &f);
                    f
                }
            };
            out.put_slice(&frame);
            if out.len() >= CHUNK_BYTES {
                break;
            }
        }
        out.freeze()
    }
}

/// One event: `id: <seq>` and the event as one line of JSON (serde escapes every
/// newline inside strings, so `data:` never needs splitting). Encoded into a `Vec`:
/// serde_json writes to it directly, where a `BytesMut` writer costs a call per
/// fragment.
fn frame(e: &Event) -> Bytes {
    let mut v = Vec::with_capacity(e.raw.len() * 2 + 256);
    let _ = write!(v, "id: {}\ndata: ", e.seq);
    let start = v.len();
    if serde_json::to_writer(&mut v, e).is_err() {
        v.truncate(start);
        v.extend_from_slice(b"{}");
    }
    v.extend_from_slice(b"\n\n");
    Bytes::from(v)
}

fn error_event(e: &StoreError) -> Bytes {
    let body = serde_json::json!({"code": e.code(), "message": e.to_string()});
    Bytes::from(format!("event: relay_error\ndata: {body}\n\n"))
}
