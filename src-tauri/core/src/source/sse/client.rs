//! The SSE transport: one long-running task per source.
//!
//! It connects, checks the answer, feeds the body to the [`SseParser`], forwards events
//! on a bounded channel (back-pressure: a slow consumer slows our reads, it never grows
//! our memory), and decides after every connection whether and when to reconnect
//! (see [`Backoff`]).
//!
//! Streams that end after completion (seed 002): the server sends the final status and
//! closes, and answers every later request with the same final status. With
//! `follow = false` a normal end after at least one event stops the source cleanly.
//! With `follow = true` we reconnect for the next run, but a connection whose events
//! repeat exactly those of the previous connection (same types, data and ids) and that
//! ended normally is counted as a failure for backoff: the server has nothing new, so
//! the wait grows to the cap instead of polling it every reconnection time forever.
//! As soon as a connection brings something new, the pace returns to the server's.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE,
    RETRY_AFTER,
};
use reqwest::{redirect, StatusCode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use super::backoff::Backoff;
use super::config::SseSourceConfig;
use super::error::SseError;
use super::parser::{ParsedItem, SseParser};
use super::redact::{redact_url, redact_url_str};
use super::subscribe;
use super::update::{CleanStop, ConnectionState, SseUpdate};

/// The header browsers send on reconnect, and we send whenever we know an id.
const LAST_EVENT_ID: &str = "last-event-id";
/// Redirects are followed (issue 3); ten is what browsers and reqwest allow.
const MAX_REDIRECTS: usize = 10;
/// Waiting for a TCP/TLS connection longer than this is a failure worth retrying.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a subscription POST, and on waiting for response headers when the idle
/// timeout is disabled.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A configured, validated SSE source, ready to [`run`](SseClient::run).
pub struct SseClient {
    config: SseSourceConfig,
    /// The URL as requested: the configured one plus `?token=` when configured.
    url: Url,
    /// For logs and messages.
    shown_url: String,
    /// Sent with every request: custom headers and auth.
    auth_headers: HeaderMap,
    http: reqwest::Client,
}

/// How one connection ended.
enum Outcome {
    /// Do not reconnect.
    Stop(Result<CleanStop, SseError>),
    /// Nothing was delivered (or the connection was unusable): back off.
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// At least one event was delivered.
    Delivered {
        reason: String,
        normal_end: bool,
        fingerprint: u64,
    },
}

impl SseClient {
    /// Validates the config (URL, headers, subscription paths) and builds the HTTP
    /// client. Errors here are config errors: retrying would not help.
    pub fn new(config: SseSourceConfig) -> Result<Self, SseError> {
        let mut url = Url::parse(&config.url).map_err(|e| SseError::InvalidUrl {
            url: redact_url_str(&config.url),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SseError::UnsupportedScheme {
                url: redact_url(&url),
            });
        }
        if let Some(token) = &config.query_token {
            set_token_param(&mut url, token);
        }
        let shown_url = redact_url(&url);

        let mut auth_headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let bad = |reason: String| SseError::InvalidHeader {
                source_name: config.name.clone(),
                name: name.clone(),
                reason,
            };
            let hname =
                HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| bad(e.to_string()))?;
            let mut hvalue = HeaderValue::from_str(value.trim())
                .map_err(|_| bad("the value has characters not allowed in a header".into()))?;
            // Custom headers often carry API keys; keep them out of any debug output.
            hvalue.set_sensitive(true);
            auth_headers.append(hname, hvalue);
        }
        if let Some(token) = &config.bearer {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                    SseError::InvalidHeader {
                        source_name: config.name.clone(),
                        name: "Authorization".into(),
                        reason: "the bearer token has characters not allowed in a header".into(),
                    }
                })?;
            v.set_sensitive(true);
            auth_headers.insert(AUTHORIZATION, v);
        }
        if let Some(two_step) = &config.subscribe {
            for template in &two_step.subscriptions {
                subscribe::check_template(&url, template).map_err(|reason| {
                    SseError::InvalidSubscription {
                        template: template.clone(),
                        reason,
                    }
                })?;
            }
        }

        let http = reqwest::Client::builder()
            .user_agent(concat!("telltale/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect::Policy::limited(MAX_REDIRECTS))
            .gzip(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| SseError::Client(e.without_url().to_string()))?;

        Ok(SseClient {
            config,
            url,
            shown_url,
            auth_headers,
            http,
        })
    }

    /// The source URL as it may be logged or shown.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Runs until the source stops for good or `cancel` fires. Every state change and
    /// event goes to `updates`; the last update is always `State(Stopped { .. })` (unless
    /// the receiver is gone). The result repeats why it stopped, for callers such as
    /// `telltale tail` that turn it into an exit status.
    pub async fn run(
        self,
        updates: mpsc::Sender<SseUpdate>,
        cancel: CancellationToken,
    ) -> Result<CleanStop, SseError> {
        let source = self.config.name.as_str();
        let mut parser = SseParser::with_max_event_size(self.config.max_event_size)
            .with_last_event_id(self.config.last_event_id.clone().unwrap_or_default());
        let mut backoff = Backoff::new(self.config.initial_retry, self.config.max_backoff);
        let mut previous_fingerprint: Option<u64> = None;
        let mut attempt: u32 = 0;

        let result = loop {
            if cancel.is_cancelled() {
                break Ok(CleanStop::Cancelled);
            }
            if let Err(stop) = emit(
                &updates,
                &cancel,
                SseUpdate::State(ConnectionState::Connecting),
            )
            .await
            {
                break Ok(stop);
            }
            let outcome = self
                .connect_once(&mut parser, &mut backoff, &updates, &cancel)
                .await;
            if parser.finish() {
                debug!(
                    source,
                    "connection ended inside an event; the partial event was discarded"
                );
            }
            let (delay, reason) = match outcome {
                Outcome::Stop(result) => break result,
                Outcome::Failed {
                    reason,
                    retry_after,
                } => (backoff.after_failure(retry_after), reason),
                Outcome::Delivered {
                    reason,
                    normal_end,
                    fingerprint,
                } => {
                    attempt = 0;
                    if normal_end && !self.config.follow {
                        break Ok(CleanStop::Completed);
                    }
                    let repeat = normal_end && previous_fingerprint == Some(fingerprint);
                    previous_fingerprint = Some(fingerprint);
                    if repeat {
                        let reason = format!(
                            "{reason}; it repeated the previous connection's events (nothing new, backing off)"
                        );
                        (backoff.after_failure(None), reason)
                    } else {
                        (backoff.after_success(), reason)
                    }
                }
            };
            attempt = attempt.saturating_add(1);
            warn!(source, url = %self.shown_url, attempt, next_in = ?delay, %reason, "SSE reconnecting");
            let state = ConnectionState::Reconnecting {
                attempt,
                next_in: delay,
                reason,
            };
            if let Err(stop) = emit(&updates, &cancel, SseUpdate::State(state)).await {
                break Ok(stop);
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Ok(CleanStop::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        };

        let (reason, clean) = match &result {
            Ok(stop) => (stop.reason().to_string(), true),
            Err(e) => (e.to_string(), false),
        };
        match &result {
            Ok(_) => info!(source, url = %self.shown_url, %reason, "SSE source stopped"),
            Err(e) => {
                warn!(source, url = %self.shown_url, code = e.code(), %reason, "SSE source stopped")
            }
        }
        let stopped = SseUpdate::State(ConnectionState::Stopped { reason, clean });
        if matches!(result, Ok(CleanStop::Cancelled)) {
            // Shutting down: tell the consumer if there is room, never delay shutdown.
            let _ = updates.try_send(stopped);
        } else {
            // The consumer should learn why we stopped, but a full channel nobody reads
            // is not waited on forever.
            let _ = tokio::time::timeout(Duration::from_secs(5), updates.send(stopped)).await;
        }
        result
    }

    /// One request and, if it is accepted, its whole stream.
    async fn connect_once(
        &self,
        parser: &mut SseParser,
        backoff: &mut Backoff,
        updates: &mpsc::Sender<SseUpdate>,
        cancel: &CancellationToken,
    ) -> Outcome {
        let source = self.config.name.as_str();
        let mut request = self
            .http
            .get(self.url.clone())
            .headers(self.auth_headers.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        let last_id = parser.last_event_id();
        if !last_id.is_empty() {
            match HeaderValue::from_str(last_id) {
                Ok(v) => request = request.header(LAST_EVENT_ID, v),
                Err(_) => warn!(
                    source,
                    "the last event id cannot be sent as a header; reconnecting without it"
                ),
            }
        }
        debug!(source, url = %self.shown_url, last_event_id = last_id, "SSE connecting");

        let header_limit = self.idle_limit().unwrap_or(REQUEST_TIMEOUT);
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Outcome::Stop(Ok(CleanStop::Cancelled)),
            r = tokio::time::timeout(header_limit, request.send()) => r,
        };
        let response = match response {
            Err(_) => {
                return Outcome::Failed {
                    reason: format!("no response within {header_limit:?}"),
                    retry_after: None,
                }
            }
            Ok(Err(e)) if e.is_redirect() => {
                return Outcome::Stop(Err(SseError::RedirectLoop {
                    url: self.shown_url.clone(),
                }))
            }
            Ok(Err(e)) => {
                return Outcome::Failed {
                    reason: format!("request failed: {}", describe(e)),
                    retry_after: None,
                }
            }
            Ok(Ok(r)) => r,
        };

        let final_url = redact_url(response.url());
        if let Some(outcome) = check_response(&response, &final_url) {
            return outcome;
        }
        info!(source, url = %final_url, "SSE connected");
        if let Err(stop) = emit(
            updates,
            cancel,
            SseUpdate::State(ConnectionState::Connected),
        )
        .await
        {
            return Outcome::Stop(Ok(stop));
        }

        let mut body = response.bytes_stream();
        let mut items = Vec::new();
        let mut delivered: u64 = 0;
        let mut fingerprint = DefaultHasher::new();
        let mut subscribed = false;
        let end = |reason: String, normal_end: bool, delivered: u64, fp: &DefaultHasher| {
            if delivered > 0 {
                Outcome::Delivered {
                    reason,
                    normal_end,
                    fingerprint: fp.finish(),
                }
            } else {
                Outcome::Failed {
                    reason: format!("{reason} before any event"),
                    retry_after: None,
                }
            }
        };
        loop {
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Outcome::Stop(Ok(CleanStop::Cancelled)),
                // The idle timer restarts on every chunk, comments included. With gzip it
                // sees decoded chunks; a heartbeat the server flushes still decodes at once.
                n = next_within(self.idle_limit(), &mut body) => n,
            };
            let chunk = match next {
                None => {
                    let idle = self.idle_limit().unwrap_or_default();
                    let reason = format!("no data for {idle:?} (idle timeout)");
                    return end(reason, false, delivered, &fingerprint);
                }
                Some(None) => {
                    return end(
                        "the server ended the stream".into(),
                        true,
                        delivered,
                        &fingerprint,
                    )
                }
                Some(Some(Err(e))) => {
                    let reason = format!("the stream broke: {}", describe(e));
                    return end(reason, false, delivered, &fingerprint);
                }
                Some(Some(Ok(chunk))) => chunk,
            };
            parser.feed_into(&chunk, &mut items);
            for item in items.drain(..) {
                match item {
                    ParsedItem::Event(event) => {
                        delivered += 1;
                        event.hash(&mut fingerprint);
                        let connection_id = match (&self.config.subscribe, subscribed) {
                            (Some(two_step), false) => subscribe::connection_id(two_step, &event),
                            _ => None,
                        };
                        if let Err(stop) = emit(updates, cancel, SseUpdate::Event(event)).await {
                            return Outcome::Stop(Ok(stop));
                        }
                        match connection_id {
                            None => {}
                            Some(Err(why)) => {
                                return Outcome::Failed {
                                    reason: format!("the connected event is unusable: {why}"),
                                    retry_after: None,
                                }
                            }
                            Some(Ok(id)) => {
                                subscribed = true;
                                if let Some(outcome) = self.subscribe_all(&id, cancel).await {
                                    return outcome;
                                }
                            }
                        }
                    }
                    ParsedItem::Retry(ms) => {
                        debug!(source, ms, "server set the reconnection time");
                        backoff.set_reconnection_time_ms(ms);
                    }
                    // Liveness only: reading it already reset the idle timer.
                    ParsedItem::Comment => {}
                    ParsedItem::TooLarge { limit } => {
                        warn!(
                            source,
                            limit, "discarded an SSE line or event larger than the limit"
                        );
                        // Said to the consumer too: history must show that something
                        // was dropped here, not only a log line.
                        if let Err(stop) =
                            emit(updates, cancel, SseUpdate::Discarded { limit }).await
                        {
                            return Outcome::Stop(Ok(stop));
                        }
                    }
                }
            }
        }
    }

    /// POSTs every configured subscription for this connection. `Some` ends the
    /// connection (stop or reconnect); `None` means all were accepted.
    async fn subscribe_all(
        &self,
        connection_id: &str,
        cancel: &CancellationToken,
    ) -> Option<Outcome> {
        let source = self.config.name.as_str();
        let two_step = self.config.subscribe.as_ref()?;
        for template in &two_step.subscriptions {
            let mut url = match subscribe::subscription_url(&self.url, template, connection_id) {
                Ok(u) => u,
                Err(why) => {
                    return Some(Outcome::Failed {
                        reason: format!(
                            "cannot build the subscription URL from {template:?}: {why}"
                        ),
                        retry_after: None,
                    })
                }
            };
            if let Some(token) = &self.config.query_token {
                set_token_param(&mut url, token);
            }
            let shown = redact_url(&url);
            let request = self
                .http
                .post(url)
                .headers(self.auth_headers.clone())
                .send();
            let response = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Some(Outcome::Stop(Ok(CleanStop::Cancelled))),
                r = tokio::time::timeout(REQUEST_TIMEOUT, request) => r,
            };
            let status = match response {
                Err(_) => {
                    return Some(Outcome::Failed {
                        reason: format!(
                            "subscription POST to {shown} got no answer within {REQUEST_TIMEOUT:?}"
                        ),
                        retry_after: None,
                    })
                }
                Ok(Err(e)) => {
                    return Some(Outcome::Failed {
                        reason: format!("subscription POST to {shown} failed: {}", describe(e)),
                        retry_after: None,
                    })
                }
                Ok(Ok(r)) => r.status(),
            };
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Some(Outcome::Stop(Err(SseError::SubscribeRefused {
                    status: status.as_u16(),
                    url: shown,
                })));
            }
            if !status.is_success() {
                // 404 here usually means the server already forgot this connection id:
                // a fresh connection gets a fresh id.
                return Some(Outcome::Failed {
                    reason: format!("subscription POST to {shown} answered {status}"),
                    retry_after: None,
                });
            }
            debug!(source, url = %shown, "subscribed");
        }
        None
    }

    fn idle_limit(&self) -> Option<Duration> {
        (!self.config.idle_timeout.is_zero()).then_some(self.config.idle_timeout)
    }
}

/// Sorts a response into "stream it" (`None`), stop, or retry.
fn check_response(response: &reqwest::Response, url: &str) -> Option<Outcome> {
    let status = response.status();
    let url = url.to_string();
    let stop = |e: SseError| Some(Outcome::Stop(Err(e)));
    match status {
        StatusCode::OK => {}
        StatusCode::NO_CONTENT => return Some(Outcome::Stop(Ok(CleanStop::NoContent))),
        StatusCode::UNAUTHORIZED => return stop(SseError::Unauthorized { url }),
        StatusCode::FORBIDDEN => return stop(SseError::Forbidden { url }),
        StatusCode::NOT_FOUND => return stop(SseError::NotFound { url }),
        s if s.is_server_error()
            || s == StatusCode::TOO_MANY_REQUESTS
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            let retry_after =
                if s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::SERVICE_UNAVAILABLE {
                    retry_after(response.headers())
                } else {
                    None
                };
            return Some(Outcome::Failed {
                reason: format!("{url} answered {s}"),
                retry_after,
            });
        }
        s => {
            return stop(SseError::Refused {
                status: s.as_u16(),
                url,
            })
        }
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if !is_event_stream(&content_type) {
        let content_type = if content_type.is_empty() {
            "(none)".to_string()
        } else {
            content_type
        };
        return stop(SseError::WrongContentType { url, content_type });
    }
    None
}

/// `text/event-stream`, ignoring parameters (`; charset=utf-8`) and case.
fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

/// `Retry-After` in seconds. (The HTTP-date form is rare on 429/503 from job servers
/// and would need a date parser; it is ignored, and ordinary backoff applies.)
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// Replaces any `token` query parameter with ours.
fn set_token_param(url: &mut Url, token: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("token", token);
}

/// A reqwest error without its URL (which may hold the token), with its causes, which
/// are where the useful part ("connection refused") is.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The next body chunk, or `None` when nothing arrived within `limit`.
async fn next_within<S>(limit: Option<Duration>, body: &mut S) -> Option<Option<S::Item>>
where
    S: futures_util::Stream + Unpin,
{
    match limit {
        Some(limit) => tokio::time::timeout(limit, body.next()).await.ok(),
        None => Some(body.next().await),
    }
}

/// Sends one update, giving up if the source is cancelled or nobody listens.
async fn emit(
    updates: &mpsc::Sender<SseUpdate>,
    cancel: &CancellationToken,
    update: SseUpdate,
) -> Result<(), CleanStop> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(CleanStop::Cancelled),
        r = updates.send(update) => r.map_err(|_| CleanStop::ReceiverGone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream; charset=utf-8"));
        assert!(is_event_stream(" text/event-stream ;charset=UTF-8"));
        assert!(!is_event_stream("application/json"));
        assert!(!is_event_stream(""));
        assert!(!is_event_stream("text/event-streams"));
    }

    #[test]
    fn token_param_is_replaced_not_duplicated() {
        let mut u = Url::parse("http://h/p?a=1&token=old").unwrap();
        set_token_param(&mut u, "n&w");
        assert_eq!(u.as_str(), "http://h/p?a=1&token=n%26w");
    }

    #[test]
    fn config_errors_are_reported_before_running() {
        let bad_url = SseSourceConfig::new("s", "not a url");
        assert!(matches!(
            SseClient::new(bad_url),
            Err(SseError::InvalidUrl { .. })
        ));
        let ftp = SseSourceConfig::new("s", "ftp://h/p");
        assert!(matches!(
            SseClient::new(ftp),
            Err(SseError::UnsupportedScheme { .. })
        ));
        let mut header = SseSourceConfig::new("s", "http://h/p");
        header.headers.push(("Bad Name".into(), "v".into()));
        assert!(matches!(
            SseClient::new(header),
            Err(SseError::InvalidHeader { .. })
        ));
        let mut sub = SseSourceConfig::new("s", "http://h/p");
        sub.subscribe = Some(super::super::TwoStep::new(vec!["/no/placeholder".into()]));
        assert!(matches!(
            SseClient::new(sub),
            Err(SseError::InvalidSubscription { .. })
        ));
    }

    #[test]
    fn the_shown_url_hides_the_query_token() {
        let mut cfg = SseSourceConfig::new("s", "http://u:p@h/events?x=1");
        cfg.query_token = Some("s3cret".into());
        let client = SseClient::new(cfg).unwrap();
        assert_eq!(client.shown_url(), "http://h/events?x=1&token=REDACTED");
        assert_eq!(client.url.query(), Some("x=1&token=s3cret"));
    }
}
