//! `[[sources]]`: the places Telltale watches.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::document::{join, parse_duration, Document, Value};
use super::secret::Secret;
use super::store::parse_limit;
use super::suggest::did_you_mean;
use super::LITERAL_SECRET_ADVICE;
use crate::normalize::FieldOverrides;
use crate::source::url::SourceUrl;

/// A connection silent for this long is treated as dead and reconnected. The seeds'
/// servers send a heartbeat every 15–30 s, so 90 s tolerates two missed beats.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// BullMQ queue counts are polled this often (one pipelined round trip per poll).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

const KEYS: [&str; 11] = [
    "name",
    "url",
    "enabled",
    "headers",
    "bearer",
    "token",
    "idle_timeout",
    "follow",
    "subscribe",
    "overrides",
    "poll_interval",
];
const SSE_ONLY: [&str; 6] = [
    "headers",
    "bearer",
    "token",
    "idle_timeout",
    "follow",
    "subscribe",
];
const BULLMQ_ONLY: [&str; 1] = ["poll_interval"];
/// The placeholder of `subscribe` templates (see `source::sse::TwoStep`).
const SUBSCRIBE_PLACEHOLDER: &str = "connectionId";
const OVERRIDE_KEYS: [&str; 8] = [
    "kind", "entity", "status", "progress", "stage", "message", "error", "parent",
];

/// One configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// Unique among sources; stored with every event, so renaming splits history.
    pub name: String,
    pub url: SourceUrl,
    pub enabled: bool,
    /// SSE: extra request headers. Values are secrets (they often carry credentials).
    pub headers: BTreeMap<String, Secret>,
    /// SSE: sent as `Authorization: Bearer <value>`.
    pub bearer: Option<Secret>,
    /// SSE: appended to the URL as `?token=<value>` (EventSource-style auth).
    pub token: Option<Secret>,
    /// SSE: reconnect when nothing (not even a comment) arrives for this long.
    /// `Duration::ZERO` (written `"off"`) disables the check.
    pub idle_timeout: Duration,
    /// SSE: keep reconnecting after the server ends the stream normally. `false`
    /// suits one-job streams (seed 002) that end when the job is done.
    pub follow: bool,
    /// SSE two-step APIs (seed 004): path templates POSTed after every connect, with
    /// `{connectionId}` filled from the `connected` event and the path resolved
    /// against the source URL, e.g. `/api/v1/sse/{connectionId}/subscribe/queue/emails`.
    pub subscribe: Vec<String>,
    /// JSON pointers that override the built-in field recognition.
    pub overrides: FieldOverrides,
    /// BullMQ: how often queue counts are polled.
    pub poll_interval: Duration,
}

impl SourceConfig {
    /// A source with every option at its default.
    pub fn new(name: impl Into<String>, url: SourceUrl) -> Self {
        SourceConfig {
            name: name.into(),
            url,
            enabled: true,
            headers: BTreeMap::new(),
            bearer: None,
            token: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            follow: true,
            subscribe: Vec::new(),
            overrides: FieldOverrides::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// A source given on the command line (`telltale tail URL`, `serve --source URL`),
    /// named after its URL.
    pub fn ad_hoc(url: SourceUrl) -> Self {
        SourceConfig::new(url.default_name(), url)
    }
}

/// Reads the `sources` array. Items with errors are left out (the load fails anyway).
pub(crate) fn read_sources(doc: &mut Document<'_>, value: &Value<'_>) -> Vec<SourceConfig> {
    let DeValue::Array(items) = value.get_ref() else {
        doc.error(
            value.span(),
            "sources",
            format!(
                "expected an array of tables ([[sources]]), found {}",
                value.get_ref().type_str()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    // name -> line of its first use, for the duplicate message.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("sources[{i}]");
        let Some(table) = doc.table(item, &prefix) else {
            continue;
        };
        let errors_before = doc.problems.iter().filter(|p| p.is_error()).count();
        let source = read_one(doc, table, item.span(), &prefix);
        if let Some((name, span)) = table
            .get("name")
            .and_then(|v| v.get_ref().as_str().map(|s| (s, v.span())))
        {
            match seen.get(name) {
                Some(first) => doc.error(
                    span,
                    &join(&prefix, "name"),
                    format!("duplicate source name \"{name}\" (first used on line {first})"),
                ),
                None => {
                    let line = doc.line_of(span.start);
                    seen.insert(name.to_string(), line);
                }
            }
        }
        let errors_after = doc.problems.iter().filter(|p| p.is_error()).count();
        if let Some(source) = source.filter(|_| errors_after == errors_before) {
            out.push(source);
        }
    }
    out
}

fn read_one(
    doc: &mut Document<'_>,
    table: &DeTable<'_>,
    item_span: Range<usize>,
    prefix: &str,
) -> Option<SourceConfig> {
    doc.check_keys(table, prefix, &KEYS);
    let key = |k: &str| join(prefix, k);

    let url = match table.get("url") {
        Some(v) => doc
            .string(v, &key("url"))
            .and_then(|text| match SourceUrl::parse(text) {
                Ok(url) => {
                    for what in url.literal_secrets() {
                        doc.warn(
                            v.span(),
                            &key("url"),
                            format!("{what} written in the file: {LITERAL_SECRET_ADVICE}"),
                        );
                    }
                    Some(url)
                }
                Err(e) => {
                    doc.error(v.span(), &key("url"), e.to_string());
                    None
                }
            }),
        None => {
            doc.error(
                item_span.clone(),
                prefix,
                "missing key \"url\" (e.g. url = \"https://api.example.com/events\")",
            );
            None
        }
    };

    let name = match table.get("name") {
        Some(v) => doc
            .string(v, &key("name"))
            .and_then(|n| match check_name(n) {
                Ok(()) => Some(n.to_string()),
                Err(msg) => {
                    doc.error(v.span(), &key("name"), msg);
                    None
                }
            }),
        None => {
            let hint = url
                .as_ref()
                .map(|u| format!(" (e.g. name = \"{}\")", u.default_name()))
                .unwrap_or_default();
            doc.error(item_span, prefix, format!("missing key \"name\"{hint}"));
            None
        }
    };

    // Every field is read (and type-checked) even when the name or URL is wrong, so
    // one pass reports everything; the source is assembled only if all is well.
    let mut enabled = true;
    let mut follow = true;
    let mut idle_timeout = DEFAULT_IDLE_TIMEOUT;
    let mut poll_interval = DEFAULT_POLL_INTERVAL;
    let mut headers = BTreeMap::new();
    let mut subscribe = Vec::new();
    let mut overrides = FieldOverrides::default();
    if let Some(v) = table.get("enabled") {
        enabled = doc.bool(v, &key("enabled")).unwrap_or(enabled);
    }
    if let Some(v) = table.get("follow") {
        follow = doc.bool(v, &key("follow")).unwrap_or(follow);
    }
    if let Some(v) = table.get("idle_timeout") {
        let k = key("idle_timeout");
        if let Some(text) = doc.string(v, &k) {
            match parse_limit(text, parse_duration) {
                Ok(limit) => idle_timeout = limit.unwrap_or(Duration::ZERO),
                Err(msg) => doc.error(v.span(), &k, msg),
            }
        }
    }
    if let Some(v) = table.get("poll_interval") {
        poll_interval = doc
            .duration(v, &key("poll_interval"))
            .unwrap_or(poll_interval);
    }
    let bearer = table
        .get("bearer")
        .and_then(|v| read_secret(doc, v, &key("bearer")));
    let token = table
        .get("token")
        .and_then(|v| read_secret(doc, v, &key("token")));
    if let Some(v) = table.get("headers") {
        if let Some(t) = doc.table(v, &key("headers")) {
            headers = read_headers(doc, t, &key("headers"));
        }
    }
    if let Some(v) = table.get("subscribe") {
        if let Some(list) = doc.string_list(v, &key("subscribe")) {
            for (i, (template, span)) in list.iter().enumerate() {
                if let Err(msg) = check_subscribe_template(template) {
                    doc.error(span.clone(), &format!("{}[{i}]", key("subscribe")), msg);
                }
            }
            subscribe = list.into_iter().map(|(t, _)| t.to_string()).collect();
        }
    }
    if let Some(v) = table.get("overrides") {
        if let Some(t) = doc.table(v, &key("overrides")) {
            overrides = read_overrides(doc, t, &key("overrides"));
        }
    }

    // The kind is known from the scheme even when the rest of the URL is wrong.
    let kind = match &url {
        Some(u) => Some(u.kind()),
        None => table
            .get("url")
            .and_then(|v| v.get_ref().as_str())
            .and_then(kind_of_scheme),
    };
    if let Some(kind) = kind {
        check_applicable(doc, table, prefix, kind);
    }
    let url = url?;
    if let (Some(v), true) = (table.get("bearer"), has_header(&headers, "authorization")) {
        doc.error(
            v.span(),
            &key("bearer"),
            "both bearer and an Authorization header are set; keep one",
        );
    }
    if let (Some(v), SourceUrl::Sse { url: sse }) = (table.get("token"), &url) {
        if sse.as_written().query_pairs().any(|(k, _)| k == "token") {
            doc.error(
                v.span(),
                &key("token"),
                "the url already has ?token=; keep one of the two",
            );
        }
    }
    Some(SourceConfig {
        name: name?,
        url,
        enabled,
        headers,
        bearer,
        token,
        idle_timeout,
        follow,
        subscribe,
        overrides,
        poll_interval,
    })
}

/// Reports keys that do not apply to this kind of source: an operator who sets
/// `bearer` on a Redis source expects it to do something.
fn check_applicable(doc: &mut Document<'_>, table: &DeTable<'_>, prefix: &str, kind: &str) {
    for k in table.keys() {
        let name = k.get_ref().as_ref();
        let applies_to = if SSE_ONLY.contains(&name) && kind != "sse" {
            "http(s):// (SSE) sources"
        } else if BULLMQ_ONLY.contains(&name) && kind != "bullmq" {
            "bullmq:// sources"
        } else {
            continue;
        };
        let extra = if matches!(name, "bearer" | "token") && kind != "sse" {
            "; a Redis password goes in the URL: redis://:${REDIS_PASSWORD}@host:6379"
        } else {
            ""
        };
        doc.error(
            k.span(),
            &join(prefix, name),
            format!(
                "only applies to {applies_to}, not to {}{extra}",
                kind_label(kind)
            ),
        );
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "sse" => "an http(s):// (SSE) source",
        "redis" => "a redis:// source",
        _ => "a bullmq:// source",
    }
}

/// The source kind a URL's scheme implies, without parsing the rest.
fn kind_of_scheme(url: &str) -> Option<&'static str> {
    let (scheme, _) = url.trim().split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => Some("sse"),
        "redis" | "rediss" => Some("redis"),
        "bullmq" | "bullmqs" => Some("bullmq"),
        _ => None,
    }
}

fn read_secret(doc: &mut Document<'_>, v: &Value<'_>, key: &str) -> Option<Secret> {
    match doc.string(v, key)? {
        "" => {
            doc.error(v.span(), key, "must not be empty");
            None
        }
        text => {
            let secret = Secret::new(text);
            if secret.is_literal() {
                doc.warn(v.span(), key, LITERAL_SECRET_ADVICE);
            }
            Some(secret)
        }
    }
}

fn read_headers(
    doc: &mut Document<'_>,
    table: &DeTable<'_>,
    prefix: &str,
) -> BTreeMap<String, Secret> {
    let mut out = BTreeMap::new();
    for (k, v) in table.iter() {
        let name = k.get_ref().as_ref();
        let key = join(prefix, name);
        if name.is_empty() || !name.bytes().all(is_header_name_byte) {
            doc.error(k.span(), &key, "not a valid HTTP header name");
            continue;
        }
        if matches!(
            name.to_ascii_lowercase().as_str(),
            "accept" | "last-event-id"
        ) {
            doc.error(
                k.span(),
                &key,
                "set by Telltale itself (the SSE protocol needs its own value)",
            );
            continue;
        }
        let Some(text) = doc.string(v, &key) else {
            continue;
        };
        if text.contains(['\r', '\n']) {
            doc.error(v.span(), &key, "header values cannot contain line breaks");
            continue;
        }
        let secret = Secret::new(text);
        if secret.is_literal() && is_sensitive_header(name) {
            doc.warn(v.span(), &key, LITERAL_SECRET_ADVICE);
        }
        out.insert(name.to_string(), secret);
    }
    out
}

fn read_overrides(doc: &mut Document<'_>, table: &DeTable<'_>, prefix: &str) -> FieldOverrides {
    doc.check_keys(table, prefix, &OVERRIDE_KEYS);
    let mut o = FieldOverrides::default();
    for (field, slot) in [
        ("kind", &mut o.kind),
        ("entity", &mut o.entity),
        ("status", &mut o.status),
        ("progress", &mut o.progress),
        ("stage", &mut o.stage),
        ("message", &mut o.message),
        ("error", &mut o.error),
        ("parent", &mut o.parent),
    ] {
        let Some(v) = table.get(field) else { continue };
        let key = join(prefix, field);
        if let Some(pointer) = doc.string(v, &key) {
            match check_override(pointer) {
                Ok(()) => *slot = Some(pointer.to_string()),
                Err(msg) => doc.error(v.span(), &key, msg),
            }
        }
    }
    o
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    if name.trim() != name {
        return Err("must not start or end with spaces".to_string());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".to_string());
    }
    if name.chars().count() > 100 {
        return Err("is longer than 100 characters".to_string());
    }
    Ok(())
}

/// What `normalize::FieldOverrides` accepts: an RFC 6901 JSON pointer (empty for the
/// whole payload, else `/`-separated tokens where `~` is only `~0` or `~1`), or
/// `@channel` / `@channel/N` for the channel name or its N-th `:` segment.
fn check_override(p: &str) -> Result<(), String> {
    if let Some(rest) = p.strip_prefix("@channel") {
        let ok = rest.is_empty()
            || rest
                .strip_prefix('/')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "\"{p}\": write @channel for the channel name or @channel/N for its N-th ':' segment (from 0)"
            ))
        };
    }
    if !p.is_empty() && !p.starts_with('/') {
        return Err(format!(
            "\"{p}\" is not a JSON pointer: it must start with '/', e.g. \"/data/jobId\" (or be @channel, @channel/N)"
        ));
    }
    let bytes = p.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0') | Some(b'1')) {
            return Err(format!(
                "\"{p}\": '~' must be written ~0 (and '/' inside a key ~1)"
            ));
        }
    }
    Ok(())
}

fn check_subscribe_template(t: &str) -> Result<(), String> {
    if !(t.starts_with('/') || t.starts_with("http://") || t.starts_with("https://")) {
        return Err(format!(
            "\"{t}\" must be a path starting with '/' or an http(s):// URL, e.g. \"/api/v1/sse/{{connectionId}}/subscribe/queue/emails\""
        ));
    }
    // The only placeholder the two-step protocol fills is {connectionId}; any other
    // would be POSTed literally, so it is almost certainly a typo.
    let mut rest = t;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("\"{t}\": '}}' without '{{'"));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("\"{t}\": unclosed '{{' placeholder"));
        };
        let name = &rest[open + 1..open + close];
        if name != SUBSCRIBE_PLACEHOLDER {
            let hint = did_you_mean(name, &[SUBSCRIBE_PLACEHOLDER]);
            return Err(format!(
                "\"{t}\": unknown placeholder {{{name}}}{hint}; the only one is {{{SUBSCRIBE_PLACEHOLDER}}}"
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

fn has_header(headers: &BTreeMap<String, Secret>, name: &str) -> bool {
    headers.keys().any(|k| k.eq_ignore_ascii_case(name))
}

/// Header names that usually carry credentials: a literal value there gets a warning.
fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["token", "key", "secret", "auth", "password", "session"]
        .iter()
        .any(|w| n.contains(w))
}

/// RFC 9110 `tchar`.
fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
