//! `telltale tail redis://…` and `telltale tail bullmq://…`: the Redis sources,
//! followed without a database, printed like SSE sources are.
//!
//! Pub/sub lines are the normalised events, or with `--raw` each message as
//! `{"channel", "pattern", "data"}`. BullMQ lines are the mapped job and queue events
//! (their `raw` holds the stream entry's fields), or with `--raw` just those fields.
//! Connection state and gaps go to stderr; a source that stops for good (wrong
//! password, ACL refusal) ends the command with status 1 and the reason.

use std::io;
use std::process::ExitCode;

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::event_json;
use crate::model::Event;
use crate::normalize::{normalize, FieldOverrides};
use crate::source::bullmq::{BullMqConfig, BullMqFollower, BullMqState, BullMqUpdate};
use crate::source::redis::{LinkState, PubSubSubscriber, PubSubUpdate, RedisPubSubConfig};
use crate::source::url::SourceUrl;

/// Small, like the SSE tail's: a slow stdout slows the reader instead of filling memory
/// (the pub/sub reader counts what it must drop as a gap, which is reported).
const UPDATE_BUFFER: usize = 256;

/// What the printer should do after one update.
enum Next {
    Go,
    /// Stopped for good: exit 1 with this reason.
    Fail(String),
    /// Stopped cleanly.
    Done,
}

pub async fn tail_redis(url: SourceUrl, raw: bool) -> anyhow::Result<ExitCode> {
    let name = url.default_name();
    let shown = url.to_string();
    let cancel = CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::stop_signal::stop_requested().await;
            cancel.cancel();
        }
    });
    match url {
        SourceUrl::RedisPubSub {
            conn,
            channels,
            patterns,
        } => {
            let sub =
                PubSubSubscriber::new(RedisPubSubConfig::new(&name, conn, channels, patterns))
                    .with_context(|| format!("cannot follow {shown}"))?;
            let (tx, mut rx) = mpsc::channel(UPDATE_BUFFER);
            let task = tokio::spawn(sub.run(tx, cancel.clone()));
            let overrides = FieldOverrides::default();
            while let Some(u) = rx.recv().await {
                let next = match u {
                    PubSubUpdate::Message(m) => {
                        let line = if raw {
                            serde_json::to_string(&m).unwrap_or_default()
                        } else {
                            event_json(&normalize(&m.to_raw_message(&name), &overrides))
                        };
                        print_or_stop(&line, &cancel)
                    }
                    PubSubUpdate::State(state) => pubsub_state(&state, &name, &shown),
                };
                if let Some(code) = finish_step(next, &cancel)? {
                    return Ok(code);
                }
            }
            ended(
                task.await
                    .context("the Redis reader task failed")?
                    .map_err(anyhow::Error::from),
            )
        }
        SourceUrl::BullMq {
            conn,
            queues,
            prefix,
        } => {
            let follower =
                BullMqFollower::new(BullMqConfig::new(&name, conn, queues, prefix), None)
                    .with_context(|| format!("cannot follow {shown}"))?;
            let (tx, mut rx) = mpsc::channel(UPDATE_BUFFER);
            let task = tokio::spawn(follower.run(tx, cancel.clone()));
            while let Some(u) = rx.recv().await {
                let next = match u {
                    BullMqUpdate::Batch { events, .. } => {
                        let mut next = Next::Go;
                        for e in &events {
                            let line = if raw { e.raw.clone() } else { event_json(e) };
                            next = print_or_stop(&line, &cancel);
                            if !matches!(next, Next::Go) {
                                break;
                            }
                        }
                        next
                    }
                    BullMqUpdate::State(state) => bullmq_state(&state, &shown),
                };
                if let Some(code) = finish_step(next, &cancel)? {
                    return Ok(code);
                }
            }
            ended(
                task.await
                    .context("the BullMQ reader task failed")?
                    .map_err(anyhow::Error::from),
            )
        }
        SourceUrl::Sse { .. } => bail!("not a Redis URL: {shown}"),
    }
}

/// `Ok(None)`: keep going. A failure becomes the command's error: one line on stderr
/// (`telltale: <reason>`) and exit status 1, as for SSE sources.
fn finish_step(next: Next, cancel: &CancellationToken) -> anyhow::Result<Option<ExitCode>> {
    match next {
        Next::Go => Ok(None),
        Next::Done => {
            cancel.cancel();
            Ok(Some(ExitCode::SUCCESS))
        }
        Next::Fail(reason) => {
            cancel.cancel();
            Err(anyhow::anyhow!(reason))
        }
    }
}

fn ended(result: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}

/// Prints one line and flushes it. A closed stdout (`| head -1`) ends tailing cleanly.
fn print_or_stop(line: &str, cancel: &CancellationToken) -> Next {
    use std::io::Write;
    let mut out = io::stdout().lock();
    match writeln!(out, "{line}").and_then(|_| out.flush()) {
        Ok(()) => Next::Go,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            cancel.cancel();
            Next::Done
        }
        Err(e) => Next::Fail(format!("cannot write to stdout: {e}")),
    }
}

fn pubsub_state(state: &LinkState, name: &str, shown: &str) -> Next {
    match state {
        LinkState::Connecting => Next::Go,
        LinkState::Gap(gap) => {
            let notice: Event = gap.notice(name);
            eprintln!("telltale tail: {}", notice.message.unwrap_or_default());
            Next::Go
        }
        LinkState::Stopped {
            reason,
            clean: false,
        } => Next::Fail(reason.clone()),
        LinkState::Stopped { clean: true, .. } => Next::Done,
        other => {
            if let Some(n) = other.notice(name) {
                eprintln!("telltale tail: {shown}: {}", n.message.unwrap_or_default());
            }
            Next::Go
        }
    }
}

fn bullmq_state(state: &BullMqState, shown: &str) -> Next {
    match state {
        BullMqState::Connecting => Next::Go,
        BullMqState::Connected { queues } => {
            eprintln!("telltale tail: {shown}: following {}", queues.join(", "));
            Next::Go
        }
        BullMqState::Reconnecting {
            attempt,
            next_in,
            reason,
        } => {
            eprintln!(
                "telltale tail: {shown}: {reason}; reconnect attempt {attempt} in {next_in:.1?}"
            );
            Next::Go
        }
        BullMqState::Stopped {
            reason,
            clean: false,
        } => Next::Fail(reason.clone()),
        BullMqState::Stopped { clean: true, .. } => Next::Done,
    }
}
