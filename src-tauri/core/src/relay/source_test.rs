//! `POST /api/sources/test`: connect once with a `SourceInput` and report what
//! arrives, or why nothing can. Nothing is saved, stored in the keychain or written
//! to history; the source's own client code does the connecting, so a test that
//! passes means the real source will connect the same way.
//!
//! The test ends at the first of: a burst of events has arrived (the first event plus
//! a short moment for the ones right behind it), the source stops or fails to
//! connect, or [`TEST_WINDOW`] passes. A connection that works but stays silent is a
//! success with no events.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::edit::ConfigFile;
use crate::config::{lookup_env, SecretError, SourceConfig, KEYCHAIN_REF_PREFIX};
use crate::engine::sse_client_config;
use crate::model::Event;
use crate::normalize::normalize;
use crate::source::bullmq::{BullMqConfig, BullMqFollower, BullMqState, BullMqUpdate};
use crate::source::redis::{LinkState, PubSubSubscriber, PubSubUpdate, RedisPubSubConfig};
use crate::source::sse::{to_raw_message, ConnectionState, SseClient, SseUpdate};
use crate::source::url::SourceUrl;

use super::body;
use super::error::{ApiError, ApiErrorBody};
use super::source_edit::check;
use super::source_input::SourceInput;
use super::state::AppState;

/// How long a test waits for the source to connect and speak.
const TEST_WINDOW: Duration = Duration::from_secs(5);
/// After the first event, how long to keep collecting the ones right behind it.
const LINGER: Duration = Duration::from_millis(300);
/// At most this many events are sent back.
const MAX_EVENTS: usize = 50;

#[derive(Serialize)]
pub(crate) struct TestResult {
    pub ok: bool,
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiErrorBody>,
    pub elapsed_ms: u64,
}

/// What one run of a source's client showed.
#[derive(Default)]
struct Outcome {
    connected: bool,
    events: Vec<Event>,
    error: Option<ApiErrorBody>,
}

pub(crate) async fn test(
    State(s): State<AppState>,
    bytes: Bytes,
) -> Result<Json<TestResult>, ApiError> {
    let input: SourceInput = body::json(&bytes, "SourceInput")?;
    let started = Instant::now();
    // The input is applied to a scratch copy of the config (so `keep` finds the
    // configured secrets) and loaded with the start-up rules.
    let mut file = match s.config_path() {
        Some(p) => ConfigFile::open(&p).map_err(super::source_edit::edit_error)?,
        None => ConfigFile::empty(),
    };
    let mut typed = Vec::new();
    let table = match file.source_mut(&input.name) {
        Some(t) => t,
        None => file.push_source().map_err(super::source_edit::edit_error)?,
    };
    input.write_into(table, &mut typed)?;
    let (config, _) = check(&file)?;
    let source = config
        .source(&input.name)
        .cloned()
        .ok_or_else(|| ApiError::internal("the tested source is missing after loading"))?;
    // Values typed in the form are used as they are; nothing is stored.
    let typed: HashMap<String, String> = typed
        .into_iter()
        .map(|w| (format!("{KEYCHAIN_REF_PREFIX}{}", w.name), w.value))
        .collect();
    let outcome = run(&source, typed).await;
    tracing::info!(source = %source.name, ok = outcome.error.is_none(), events = outcome.events.len(), "source tested");
    let ok = outcome.error.is_none() && outcome.connected;
    let error = match (outcome.error, outcome.connected) {
        (Some(e), _) => Some(e),
        (None, false) => Some(ApiErrorBody::new(
            "test.timeout",
            format!("no connection within {} s", TEST_WINDOW.as_secs()),
        )),
        (None, true) => None,
    };
    Ok(Json(TestResult {
        ok,
        events: outcome.events,
        error,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }))
}

async fn run(source: &SourceConfig, typed: HashMap<String, String>) -> Outcome {
    let lookup_typed = move |name: &str| -> Result<Option<String>, SecretError> {
        match typed.get(name) {
            Some(v) => Ok(Some(v.clone())),
            None => lookup_env(name),
        }
    };
    match &source.url {
        SourceUrl::Sse { .. } => {
            // Resolving may reach the keychain, which blocks: off the async threads.
            let src = source.clone();
            let cfg =
                tokio::task::spawn_blocking(move || sse_client_config(&src, lookup_typed)).await;
            match cfg {
                Ok(Ok(mut cfg)) => {
                    // One connection: do not resume from, or wait on, anything stored.
                    cfg.last_event_id = None;
                    test_sse(source, cfg).await
                }
                Ok(Err(e)) => failed("source.secret", e.to_string()),
                Err(e) => failed("internal", e.to_string()),
            }
        }
        SourceUrl::RedisPubSub {
            conn,
            channels,
            patterns,
        } => {
            let mut cfg = RedisPubSubConfig::new(
                &source.name,
                conn.clone(),
                channels.clone(),
                patterns.clone(),
            );
            cfg.connect_timeout = TEST_WINDOW;
            test_pubsub(source, cfg).await
        }
        SourceUrl::BullMq {
            conn,
            queues,
            prefix,
        } => {
            let mut cfg =
                BullMqConfig::new(&source.name, conn.clone(), queues.clone(), prefix.clone());
            cfg.connect_timeout = TEST_WINDOW;
            test_bullmq(cfg).await
        }
    }
}

fn failed(code: &str, message: String) -> Outcome {
    Outcome {
        error: Some(ApiErrorBody::new(code, message)),
        ..Outcome::default()
    }
}

/// What one update means for the test.
enum Step {
    Event(Box<Event>),
    Connected,
    /// The source cannot connect now (it would retry): report why and stop.
    Retrying(String),
    /// The source stopped; `Some` with the reason when it was an error.
    Stopped(Option<String>),
    Nothing,
}

/// Drives `rx` until the test is decided; cancels the client and returns what it saw.
async fn collect<U>(
    mut rx: mpsc::Receiver<U>,
    cancel: &CancellationToken,
    mut step: impl FnMut(U) -> Step,
) -> (Outcome, Option<String>) {
    let mut out = Outcome::default();
    let mut until = tokio::time::Instant::now() + TEST_WINDOW;
    let mut problem = None;
    loop {
        let update = tokio::select! {
            u = rx.recv() => u,
            _ = tokio::time::sleep_until(until) => break,
        };
        let Some(update) = update else { break };
        match step(update) {
            Step::Event(e) => {
                let e = *e;
                if out.events.is_empty() {
                    until = until.min(tokio::time::Instant::now() + LINGER);
                }
                out.connected = true;
                out.events.push(e);
                if out.events.len() >= MAX_EVENTS {
                    break;
                }
            }
            Step::Connected => out.connected = true,
            Step::Retrying(reason) => {
                if out.events.is_empty() {
                    problem = Some(reason);
                }
                break;
            }
            Step::Stopped(reason) => {
                problem = reason;
                break;
            }
            Step::Nothing => {}
        }
    }
    cancel.cancel();
    (out, problem)
}

async fn test_sse(source: &SourceConfig, cfg: crate::source::sse::SseSourceConfig) -> Outcome {
    let client = match SseClient::new(cfg) {
        Ok(c) => c,
        Err(e) => return failed(e.code(), e.to_string()),
    };
    let (tx, rx) = mpsc::channel(MAX_EVENTS * 2);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(client.run(tx, cancel.clone()));
    let name = source.name.clone();
    let overrides = source.overrides.clone();
    let (mut out, problem) = collect(rx, &cancel, |u| match u {
        SseUpdate::Event(ev) => {
            Step::Event(Box::new(normalize(&to_raw_message(&name, &ev), &overrides)))
        }
        SseUpdate::State(ConnectionState::Connected) => Step::Connected,
        SseUpdate::State(ConnectionState::Reconnecting { reason, .. }) => Step::Retrying(reason),
        SseUpdate::State(ConnectionState::Stopped { reason, clean }) => {
            Step::Stopped((!clean).then_some(reason))
        }
        SseUpdate::State(ConnectionState::Connecting) => Step::Nothing,
        SseUpdate::Discarded { limit } => {
            Step::Retrying(format!("an event larger than {limit} bytes was discarded"))
        }
    })
    .await;
    // The client's own error carries the stable code (sse.unauthorized, ...).
    let ended = tokio::time::timeout(Duration::from_secs(2), task).await;
    if let Some(reason) = problem {
        out.error = Some(match ended {
            Ok(Ok(Err(e))) => ApiErrorBody::new(e.code(), e.to_string()),
            _ => ApiErrorBody::new("sse.connect_failed", reason),
        });
    }
    out
}

async fn test_pubsub(source: &SourceConfig, cfg: RedisPubSubConfig) -> Outcome {
    let subscriber = match PubSubSubscriber::new(cfg) {
        Ok(s) => s,
        Err(e) => return failed("redis.config", e.to_string()),
    };
    let (tx, rx) = mpsc::channel(MAX_EVENTS * 2);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(subscriber.run(tx, cancel.clone()));
    let name = source.name.clone();
    let overrides = source.overrides.clone();
    let (mut out, problem) = collect(rx, &cancel, |u| match u {
        PubSubUpdate::Message(m) => {
            Step::Event(Box::new(normalize(&m.to_raw_message(&name), &overrides)))
        }
        PubSubUpdate::State(LinkState::Connected { .. }) => Step::Connected,
        PubSubUpdate::State(LinkState::Reconnecting { reason, .. }) => Step::Retrying(reason),
        PubSubUpdate::State(LinkState::Stopped { reason, clean }) => {
            Step::Stopped((!clean).then_some(reason))
        }
        PubSubUpdate::State(_) => Step::Nothing,
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    if let Some(reason) = problem {
        out.error = Some(ApiErrorBody::new("redis.connect_failed", reason));
    }
    out
}

async fn test_bullmq(cfg: BullMqConfig) -> Outcome {
    let follower = match BullMqFollower::new(cfg, None) {
        Ok(f) => f,
        Err(e) => return failed("bullmq.config", e.to_string()),
    };
    let (tx, rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follower.run(tx, cancel.clone()));
    let mut batch = Vec::new();
    let (mut out, problem) = collect(rx, &cancel, |u| match u {
        BullMqUpdate::Batch { events, .. } => {
            batch.extend(events);
            match batch.pop() {
                Some(e) => Step::Event(Box::new(e)),
                None => Step::Nothing,
            }
        }
        BullMqUpdate::State(BullMqState::Connected { .. }) => Step::Connected,
        BullMqUpdate::State(BullMqState::Reconnecting { reason, .. }) => Step::Retrying(reason),
        BullMqUpdate::State(BullMqState::Stopped { reason, clean }) => {
            Step::Stopped((!clean).then_some(reason))
        }
        BullMqUpdate::State(BullMqState::Connecting) => Step::Nothing,
    })
    .await;
    // A batch holds many events; the step above passed on one of them.
    out.events.extend(batch);
    out.events.truncate(MAX_EVENTS);
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    if let Some(reason) = problem {
        out.error = Some(ApiErrorBody::new("bullmq.connect_failed", reason));
    }
    out
}
