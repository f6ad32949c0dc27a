//! `telltale tail URL`: follow one source and print its events as JSON lines.
//!
//! It never opens the database: it is the tool for checking what a backend sends
//! before (or without) adding it as a source. stdout carries only JSON lines, one per
//! event, flushed at once so `| jq` and `| grep` see each event as it happens;
//! connection state and the reason for stopping go to stderr.
//!
//! Exit status: 0 when the server answers 204 (it asks clients to stop), on Ctrl-C /
//! SIGTERM, and when the reader of stdout goes away (`| head -1`); 1 with a one-line
//! reason for the other stopping conditions (401, 403, 404, a wrong content type, ...)
//! and for a bad URL or header.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::output::event_json;
use crate::config::{Secret, SecretError};
use crate::normalize::{normalize, FieldOverrides};
use crate::source::sse::{
    to_raw_message, CleanStop, ConnectionState, SseClient, SseEvent, SseSourceConfig, SseUpdate,
};
use crate::source::url::{SourceUrl, SseUrl};

/// The default log filter while tailing. `tail` reports connection state itself, one
/// line each; the SSE client's own info and warn lines would say the same things a
/// second time, in another format. `TELLTALE_LOG` still overrides this.
pub const LOG_FILTER: &str =
    "info,telltale_core::source::sse=error,telltale_core::source::redis=error,telltale_core::source::bullmq=error";

/// Updates buffered between the client and the printer. Small: when stdout is slow
/// (a paused pager), the client stops reading instead of queueing events in memory.
const UPDATE_BUFFER: usize = 64;

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The source: an http:// or https:// SSE endpoint (`?token=${VAR}` is read from
    /// the environment), redis://…?channel=…&pattern=… (pub/sub) or bullmq://…?queue=….
    pub url: String,
    /// An extra request header, `Name: value`; repeatable. `${VAR}` in the value is
    /// read from the environment, e.g. -H 'Authorization: Bearer ${API_TOKEN}'.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print what the source received instead of the normalised event: each SSE event
    /// as {"type", "data", "id"}, each pub/sub message as {"channel", "pattern",
    /// "data"}, each BullMQ stream entry's fields.
    #[arg(long)]
    pub raw: bool,
    /// Reconnect when nothing at all (not even a heartbeat comment) arrives for this
    /// long: 30s, 2m. 0 disables the check.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "90s")]
    pub idle_timeout: Duration,
}

pub fn run(args: TailArgs) -> anyhow::Result<ExitCode> {
    let url = SourceUrl::parse(&args.url).context("the URL to tail")?;
    // One arm per kind of source; the Redis sources plug in here as they land.
    match url {
        SourceUrl::Sse { url: sse } => {
            let config = sse_config(&sse, &url_name(&sse), &args)?;
            let shown = sse.to_string();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(tail_sse(config, shown, args.raw))
        }
        redis @ (SourceUrl::RedisPubSub { .. } | SourceUrl::BullMq { .. }) => {
            if !args.headers.is_empty() {
                bail!("-H applies to SSE sources only; a Redis URL carries its credentials itself");
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(super::tail_redis::tail_redis(redis, args.raw))
        }
    }
}

/// The source name that normalised events carry: host, port and path, no secrets.
fn url_name(sse: &SseUrl) -> String {
    SourceUrl::Sse { url: sse.clone() }.default_name()
}

/// The client's config from the command line, with every `${VAR}` resolved now (and
/// only here: the resolved values go to the client and nowhere else).
fn sse_config(sse: &SseUrl, name: &str, args: &TailArgs) -> anyhow::Result<SseSourceConfig> {
    let resolved = sse.resolve().map_err(|e| missing_var(e, "the URL"))?;
    let mut config = SseSourceConfig::new(name, resolved.to_string());
    for header in &args.headers {
        config.headers.push(parse_header(header)?);
    }
    config.idle_timeout = args.idle_timeout;
    Ok(config)
}

/// `Name: value` with `${VAR}` references in the value resolved.
fn parse_header(header: &str) -> anyhow::Result<(String, String)> {
    let Some((name, value)) = header.split_once(':') else {
        bail!("-H {header:?}: write a header as 'Name: value'");
    };
    let name = name.trim();
    if name.is_empty() {
        bail!("-H {header:?}: the header name is empty; write it as 'Name: value'");
    }
    let value = Secret::new(value.trim())
        .resolve()
        .map_err(|e| missing_var(e, &format!("-H {name}")))?;
    Ok((name.to_string(), value))
}

/// A secret error in command-line terms (the generic message talks about the config
/// file). Names the variable, never a value.
fn missing_var(e: SecretError, what: &str) -> anyhow::Error {
    match e {
        SecretError::Missing { name } => {
            anyhow!("{what} refers to ${{{name}}}, but the environment variable {name} is not set")
        }
        SecretError::NotUnicode { name } => {
            anyhow!("{what} refers to ${{{name}}}, but {name} is not valid UTF-8")
        }
    }
}

/// One `--raw` line: the event as the SSE parser dispatched it, fields in this order.
#[derive(Serialize)]
struct RawLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
    id: &'a str,
}

fn raw_json(e: &SseEvent) -> String {
    serde_json::to_string(&RawLine {
        event_type: &e.event_type,
        data: &e.data,
        id: &e.last_event_id,
    })
    .unwrap_or_else(|_| "{}".into())
}

async fn tail_sse(
    config: SseSourceConfig,
    shown_url: String,
    raw: bool,
) -> anyhow::Result<ExitCode> {
    let name = config.name.clone();
    let client = SseClient::new(config)?;
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(UPDATE_BUFFER);
    let client_task = tokio::spawn(client.run(tx, cancel.clone()));
    let signals = tokio::spawn(cancel_on_signal(cancel.clone()));

    let overrides = FieldOverrides::default();
    // Ends when the client stops and drops its sender.
    while let Some(update) = rx.recv().await {
        match update {
            SseUpdate::Event(event) => {
                let line = if raw {
                    raw_json(&event)
                } else {
                    event_json(&normalize(&to_raw_message(&name, &event), &overrides))
                };
                if let Err(e) = print_line(&line) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        // `telltale tail URL | head -1`: the reader has what it wanted.
                        cancel.cancel();
                        break;
                    }
                    cancel.cancel();
                    return Err(e).context("writing to stdout");
                }
            }
            SseUpdate::State(state) => report(&state, &shown_url),
            SseUpdate::Discarded { limit } => {
                eprintln!("telltale tail: discarded an event larger than {limit} bytes");
            }
        }
    }
    drop(rx);
    signals.abort();
    let result = client_task.await.context("the SSE client task failed")?;
    match result {
        Ok(CleanStop::NoContent | CleanStop::Completed | CleanStop::Cancelled) => {
            Ok(ExitCode::SUCCESS)
        }
        Ok(CleanStop::ReceiverGone) => Ok(ExitCode::SUCCESS),
        // The one line `main` prints; the error's URL is already redacted.
        Err(e) => Err(e.into()),
    }
}

/// One line on stdout, written and flushed under one lock so lines never interleave
/// and each event is visible downstream at once.
fn print_line(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Connection state on stderr, one line each. An error stop is left to `main`, which
/// prints the reason once as the command's failure.
fn report(state: &ConnectionState, url: &str) {
    let line = match state {
        ConnectionState::Connecting => return,
        ConnectionState::Connected => format!("telltale tail: connected to {url}"),
        ConnectionState::Reconnecting {
            attempt,
            next_in,
            reason,
        } => format!("telltale tail: {reason}; reconnecting in {next_in:.1?} (attempt {attempt})"),
        ConnectionState::Stopped {
            reason,
            clean: true,
        } => format!("telltale tail: stopped: {reason}"),
        ConnectionState::Stopped { clean: false, .. } => return,
    };
    // A reason may quote server text; keep it to one line whatever it contains.
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Ctrl-C, and SIGTERM on Unix (what `kill`, systemd and container runtimes send),
/// stop the client; the process then exits 0.
async fn cancel_on_signal(cancel: CancellationToken) {
    super::stop_signal::stop_requested().await;
    cancel.cancel();
}

/// `90s`, `2m`, `500ms`; a bare number is seconds. `0` disables.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (write it like 30s, 2m or 500ms)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_keep_type_data_id_in_order() {
        let e = SseEvent {
            event_type: "message".into(),
            data: "a\nb".into(),
            last_event_id: String::new(),
        };
        assert_eq!(raw_json(&e), r#"{"type":"message","data":"a\nb","id":""}"#);
    }

    #[test]
    fn headers_split_at_the_first_colon_and_trim() {
        assert_eq!(
            parse_header("X-Url:  http://h:1/p ").unwrap(),
            ("X-Url".to_string(), "http://h:1/p".to_string())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": v").is_err());
    }

    #[test]
    fn an_unset_variable_is_named_in_the_error() {
        let var = "TELLTALE_TAIL_UNIT_TEST_SURELY_UNSET";
        let err = parse_header(&format!("Authorization: Bearer ${{{var}}}")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(var) && text.contains("-H Authorization"),
            "{text}"
        );
    }

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
    }
}
