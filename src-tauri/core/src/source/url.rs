//! The one source-URL syntax shared by the config file, `telltale tail URL` and
//! `telltale serve --source URL`, so an operator learns it once.
//!
//! ```text
//! http://HOST[:PORT]/PATH[?token=...]            SSE (https:// for TLS)
//! redis://[USER:PASS@]HOST[:PORT][/DB]?channel=NAME&pattern=GLOB
//!                                                  pub/sub, each parameter repeatable
//!                                                  (rediss:// for TLS)
//! bullmq://[USER:PASS@]HOST[:PORT][/DB][?queue=NAME&prefix=bull]
//!                                                  BullMQ queues; no queue = every queue
//!                                                  found under the prefix (bullmqs:// for TLS)
//! ```
//!
//! Query values are URL-decoded: a glob containing `?` or `#` is written `%3F` / `%23`.
//! Passwords and query values (such as `?token=`) may be `${ENV_VAR}` references (see
//! [`crate::config::Secret`]); they are resolved only when a connection is made, and
//! `Display` never shows them (it prints `***`).

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::config::{lookup_env, Secret, SecretError};

/// Redis's default port, used when a redis:// or bullmq:// URL gives none.
pub const DEFAULT_REDIS_PORT: u16 = 6379;
/// BullMQ's default key prefix (`bull:<queue>:events`).
pub const DEFAULT_BULLMQ_PREFIX: &str = "bull";

const EXAMPLE_SSE: &str = "https://api.example.com/events?token=${API_TOKEN}";
const EXAMPLE_REDIS: &str =
    "redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=jobs&pattern=job:*";
const EXAMPLE_BULLMQ: &str = "bullmq://localhost:6379/0?queue=emails";

/// Query parameters of an SSE URL whose values are credentials: masked in `Display`.
const SECRET_QUERY_KEYS: [&str; 8] = [
    "token",
    "access_token",
    "auth",
    "api_key",
    "apikey",
    "key",
    "password",
    "secret",
];

/// Where a source's events come from, parsed from a source URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUrl {
    /// An HTTP(S) Server-Sent-Events endpoint.
    Sse { url: SseUrl },
    /// Redis pub/sub: channels and glob patterns on one connection.
    RedisPubSub {
        conn: RedisTarget,
        channels: Vec<String>,
        patterns: Vec<String>,
    },
    /// BullMQ queues read natively from Redis. An empty `queues` means every queue
    /// found under `prefix`.
    BullMq {
        conn: RedisTarget,
        queues: Vec<String>,
        prefix: String,
    },
}

/// An SSE endpoint's URL as written. Its password and secret query values (such as
/// `?token=`) may be `${ENV}` references, resolved by [`SseUrl::resolve`].
#[derive(Clone, PartialEq, Eq)]
pub struct SseUrl {
    written: Url,
}

/// A Redis server to connect to, shared by the pub/sub and BullMQ sources.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `rediss://` / `bullmqs://`: TLS.
    pub tls: bool,
    /// Host name or address; an IPv6 address keeps its brackets (`[::1]`).
    pub host: String,
    pub port: u16,
    pub db: u32,
    /// ACL user name (Redis 6+); `None` means the default user.
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// What is wrong with a source URL. Messages never contain a password or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceUrlError {
    #[error("empty source URL (for example {EXAMPLE_SSE}, {EXAMPLE_REDIS} or {EXAMPLE_BULLMQ})")]
    Empty,
    #[error("missing scheme: write http://, https://, redis://, rediss://, bullmq:// or bullmqs:// in front (for example {EXAMPLE_REDIS})")]
    MissingScheme,
    #[error("not a valid URL: {reason} (for example {example})")]
    Malformed {
        reason: String,
        example: &'static str,
    },
    #[error("unsupported scheme \"{scheme}\" (use http, https, redis, rediss, bullmq or bullmqs)")]
    UnsupportedScheme { scheme: String },
    #[error("{scheme}:// URL has no host (for example {example})")]
    MissingHost {
        scheme: String,
        example: &'static str,
    },
    #[error(
        "the path must be a database number such as /0, not \"{path}\" (for example {example})"
    )]
    BadDatabase { path: String, example: &'static str },
    #[error("nothing to subscribe to: add channel=NAME and/or pattern=GLOB (for example {EXAMPLE_REDIS})")]
    NothingToSubscribe,
    #[error("unknown parameter \"{name}\" in a {scheme}:// URL (known: {known}){hint}")]
    UnknownParameter {
        name: String,
        scheme: String,
        known: &'static str,
        hint: String,
    },
    #[error("parameter \"{name}\" is empty (for example {example})")]
    EmptyParameter { name: String, example: &'static str },
    #[error("parameter \"{name}\" may appear only once")]
    RepeatedParameter { name: String },
    #[error("a {scheme}:// URL cannot have a #fragment; write '#' in a name as %23")]
    Fragment { scheme: String },
}

impl SourceUrl {
    /// Parses a source URL. See the module documentation for the syntax.
    pub fn parse(input: &str) -> Result<SourceUrl, SourceUrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(SourceUrlError::Empty);
        }
        // Without "://", the url crate would read "localhost:6379" as scheme
        // "localhost"; say what is actually missing instead.
        let Some((scheme, _)) = input.split_once("://") else {
            return Err(SourceUrlError::MissingScheme);
        };
        let scheme = scheme.to_ascii_lowercase();
        let example = match scheme.as_str() {
            "http" | "https" => EXAMPLE_SSE,
            "redis" | "rediss" => EXAMPLE_REDIS,
            "bullmq" | "bullmqs" => EXAMPLE_BULLMQ,
            _ => return Err(SourceUrlError::UnsupportedScheme { scheme }),
        };
        let url = Url::parse(input).map_err(|e| SourceUrlError::Malformed {
            reason: e.to_string(),
            example,
        })?;
        match scheme.as_str() {
            "http" | "https" => Ok(SourceUrl::Sse {
                url: SseUrl::new(url)?,
            }),
            "redis" | "rediss" => parse_pubsub(&url, scheme == "rediss"),
            _ => parse_bullmq(&url, scheme == "bullmqs"),
        }
    }

    /// A short, stable, password-free name for a source given on the command line:
    /// `host:port/path` for SSE, `host:port/channel` for pub/sub,
    /// `host:port/prefix:queue` for BullMQ (`/db/` appears when the database is not 0).
    pub fn default_name(&self) -> String {
        match self {
            SourceUrl::Sse { url } => {
                let u = &url.written;
                let mut name = u.host_str().unwrap_or_default().to_string();
                if let Some(port) = u.port() {
                    name.push_str(&format!(":{port}"));
                }
                let path = u.path().trim_end_matches('/');
                name.push_str(path);
                name
            }
            SourceUrl::RedisPubSub {
                conn,
                channels,
                patterns,
            } => {
                let all: Vec<&String> = channels.iter().chain(patterns).collect();
                with_more(conn.name_base(), &all)
            }
            SourceUrl::BullMq {
                conn,
                queues,
                prefix,
            } => {
                let qualified: Vec<String> = if queues.is_empty() {
                    vec![format!("{prefix}:*")]
                } else {
                    queues.iter().map(|q| format!("{prefix}:{q}")).collect()
                };
                let refs: Vec<&String> = qualified.iter().collect();
                with_more(conn.name_base(), &refs)
            }
        }
    }

    /// `"sse"`, `"redis"` or `"bullmq"`: the kind of source task this URL needs.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceUrl::Sse { .. } => "sse",
            SourceUrl::RedisPubSub { .. } => "redis",
            SourceUrl::BullMq { .. } => "bullmq",
        }
    }

    /// The Redis server, for the Redis-based kinds.
    pub fn redis_target(&self) -> Option<&RedisTarget> {
        match self {
            SourceUrl::Sse { .. } => None,
            SourceUrl::RedisPubSub { conn, .. } | SourceUrl::BullMq { conn, .. } => Some(conn),
        }
    }

    /// Which credentials are written in full in the URL rather than as `${ENV}`
    /// references (for the config loader's warning), e.g. `["password"]`.
    pub fn literal_secrets(&self) -> Vec<String> {
        match self {
            SourceUrl::Sse { url } => url.literal_secrets(),
            SourceUrl::RedisPubSub { conn, .. } | SourceUrl::BullMq { conn, .. } => conn
                .password
                .iter()
                .filter(|p| p.is_literal())
                .map(|_| "password".to_string())
                .collect(),
        }
    }
}

impl FromStr for SourceUrl {
    type Err = SourceUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceUrl::parse(s)
    }
}

/// The canonical form with every password and secret value replaced by `***`.
impl fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceUrl::Sse { url } => write!(f, "{url}"),
            SourceUrl::RedisPubSub {
                conn,
                channels,
                patterns,
            } => {
                let params = channels
                    .iter()
                    .map(|c| ("channel", c.as_str()))
                    .chain(patterns.iter().map(|p| ("pattern", p.as_str())));
                write!(f, "{}{}", conn.display_url(), query(params))
            }
            SourceUrl::BullMq {
                conn,
                queues,
                prefix,
            } => {
                let scheme = if conn.tls { "bullmqs" } else { "bullmq" };
                let prefix_param = (prefix != DEFAULT_BULLMQ_PREFIX).then_some(prefix.as_str());
                let params = queues
                    .iter()
                    .map(|q| ("queue", q.as_str()))
                    .chain(prefix_param.map(|p| ("prefix", p)));
                write!(
                    f,
                    "{}{}",
                    conn.format_url(scheme, Some("***")),
                    query(params)
                )
            }
        }
    }
}

impl SseUrl {
    fn new(written: Url) -> Result<SseUrl, SourceUrlError> {
        if written.host_str().is_none_or(str::is_empty) {
            return Err(SourceUrlError::MissingHost {
                scheme: written.scheme().to_string(),
                example: EXAMPLE_SSE,
            });
        }
        Ok(SseUrl { written })
    }

    /// The URL to connect to, with `${ENV}` references in the password and query
    /// values resolved from the process environment. Never log the result.
    pub fn resolve(&self) -> Result<Url, SecretError> {
        self.resolve_with(lookup_env)
    }

    /// [`SseUrl::resolve`] with a given variable lookup.
    pub fn resolve_with<F>(&self, mut lookup: F) -> Result<Url, SecretError>
    where
        F: FnMut(&str) -> Result<Option<String>, SecretError>,
    {
        let mut url = self.written.clone();
        if let Some(pw) = self.written.password() {
            let value = Secret::new(percent_decode(pw)).resolve_with(&mut lookup)?;
            // Setting a password only fails for URLs without a host, excluded in `new`.
            let _ = url.set_password(Some(&percent_encode(&value, is_userinfo_safe)));
        }
        if let Some(q) = self.written.query() {
            let mut out = Vec::new();
            for segment in q.split('&') {
                match segment.split_once('=') {
                    Some((k, v)) if v.contains('$') => {
                        let value = Secret::new(form_decode(v)).resolve_with(&mut lookup)?;
                        out.push(format!("{k}={}", percent_encode(&value, is_query_safe)));
                    }
                    _ => out.push(segment.to_string()),
                }
            }
            url.set_query(Some(&out.join("&")));
        }
        Ok(url)
    }

    /// The URL as written, secrets included (references unresolved). For code that
    /// needs the host or path; never log it, use `Display` instead.
    pub fn as_written(&self) -> &Url {
        &self.written
    }

    fn literal_secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(pw) = self.written.password() {
            if Secret::new(percent_decode(pw)).is_literal() {
                found.push("password".to_string());
            }
        }
        for (k, v) in self.written.query_pairs() {
            if is_secret_key(&k) && Secret::new(v.into_owned()).is_literal() {
                found.push(format!("query parameter \"{k}\""));
            }
        }
        found
    }
}

/// Prints the URL with the password and secret query values replaced by `***`.
impl fmt::Display for SseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.written.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        if let Some(q) = self.written.query() {
            // Rewritten segment by segment so the other parameters keep their
            // original encoding.
            let masked: Vec<String> = q
                .split('&')
                .map(|segment| match segment.split_once('=') {
                    Some((k, _)) if is_secret_key(&form_decode(k)) => format!("{k}=***"),
                    _ => segment.to_string(),
                })
                .collect();
            url.set_query(Some(&masked.join("&")));
        }
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for SseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SseUrl({self})")
    }
}

impl RedisTarget {
    /// The URL the `redis` crate expects (`redis://` or `rediss://`, user, password,
    /// database), with the password resolved from the environment. Never log it.
    pub fn connection_url(&self) -> Result<String, SecretError> {
        self.connection_url_with(lookup_env)
    }

    /// [`RedisTarget::connection_url`] with a given variable lookup.
    pub fn connection_url_with<F>(&self, lookup: F) -> Result<String, SecretError>
    where
        F: FnMut(&str) -> Result<Option<String>, SecretError>,
    {
        let password = match &self.password {
            Some(p) => Some(p.resolve_with(lookup)?),
            None => None,
        };
        Ok(self.format_url(self.redis_scheme(), password.as_deref()))
    }

    /// `redis://user:***@host:port/db`: safe for logs and the UI.
    pub fn display_url(&self) -> String {
        self.format_url(self.redis_scheme(), Some("***"))
    }

    fn redis_scheme(&self) -> &'static str {
        if self.tls {
            "rediss"
        } else {
            "redis"
        }
    }

    /// `password` is the text to print in the password position, if the target has
    /// one (the real value for the redis crate, `***` for display).
    fn format_url(&self, scheme: &str, password: Option<&str>) -> String {
        let user = self
            .username
            .as_deref()
            .map(|u| percent_encode(u, is_userinfo_safe))
            .unwrap_or_default();
        let userinfo = match (self.password.is_some(), password) {
            (true, Some(pw)) => format!("{user}:{}@", percent_encode(pw, is_userinfo_safe)),
            _ if !user.is_empty() => format!("{user}@"),
            _ => String::new(),
        };
        format!(
            "{scheme}://{userinfo}{}:{}/{}",
            self.host, self.port, self.db
        )
    }

    /// `host:port` plus `/db` when the database is not 0: the start of default names.
    fn name_base(&self) -> String {
        if self.db == 0 {
            format!("{}:{}", self.host, self.port)
        } else {
            format!("{}:{}/{}", self.host, self.port, self.db)
        }
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_url())
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({})", self.display_url())
    }
}

fn parse_pubsub(url: &Url, tls: bool) -> Result<SourceUrl, SourceUrlError> {
    let conn = redis_target(url, tls, EXAMPLE_REDIS)?;
    let (mut channels, mut patterns) = (Vec::new(), Vec::new());
    for (name, value) in url.query_pairs() {
        let list = match name.as_ref() {
            "channel" => &mut channels,
            "pattern" => &mut patterns,
            other => {
                let hint = if other == "queue" || other == "prefix" {
                    format!("; BullMQ queues are read with {EXAMPLE_BULLMQ}")
                } else {
                    String::new()
                };
                return Err(SourceUrlError::UnknownParameter {
                    name: other.to_string(),
                    scheme: url.scheme().to_string(),
                    known: "channel, pattern",
                    hint,
                });
            }
        };
        if value.is_empty() {
            return Err(SourceUrlError::EmptyParameter {
                name: name.into_owned(),
                example: EXAMPLE_REDIS,
            });
        }
        // Listing a channel twice would subscribe twice and double every message.
        if !list.contains(&value.to_string()) {
            list.push(value.into_owned());
        }
    }
    if channels.is_empty() && patterns.is_empty() {
        return Err(SourceUrlError::NothingToSubscribe);
    }
    Ok(SourceUrl::RedisPubSub {
        conn,
        channels,
        patterns,
    })
}

fn parse_bullmq(url: &Url, tls: bool) -> Result<SourceUrl, SourceUrlError> {
    let conn = redis_target(url, tls, EXAMPLE_BULLMQ)?;
    let mut queues: Vec<String> = Vec::new();
    let mut prefix: Option<String> = None;
    for (name, value) in url.query_pairs() {
        if name != "queue" && name != "prefix" {
            let hint = if name == "channel" || name == "pattern" {
                format!("; pub/sub channels are read with {EXAMPLE_REDIS}")
            } else {
                String::new()
            };
            return Err(SourceUrlError::UnknownParameter {
                name: name.into_owned(),
                scheme: url.scheme().to_string(),
                known: "queue, prefix",
                hint,
            });
        }
        if value.is_empty() {
            return Err(SourceUrlError::EmptyParameter {
                name: name.into_owned(),
                example: EXAMPLE_BULLMQ,
            });
        }
        if name == "queue" {
            if !queues.contains(&value.to_string()) {
                queues.push(value.into_owned());
            }
        } else if prefix.replace(value.into_owned()).is_some() {
            return Err(SourceUrlError::RepeatedParameter {
                name: "prefix".to_string(),
            });
        }
    }
    Ok(SourceUrl::BullMq {
        conn,
        queues,
        prefix: prefix.unwrap_or_else(|| DEFAULT_BULLMQ_PREFIX.to_string()),
    })
}

fn redis_target(
    url: &Url,
    tls: bool,
    example: &'static str,
) -> Result<RedisTarget, SourceUrlError> {
    let scheme = url.scheme().to_string();
    if url.fragment().is_some() {
        return Err(SourceUrlError::Fragment { scheme });
    }
    let host = match url.host_str() {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => return Err(SourceUrlError::MissingHost { scheme, example }),
    };
    let path = url.path();
    let db = match path.trim_start_matches('/') {
        "" => 0,
        digits => digits
            .parse::<u32>()
            .map_err(|_| SourceUrlError::BadDatabase {
                path: path.to_string(),
                example,
            })?,
    };
    let username = Some(percent_decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(|p| Secret::new(percent_decode(p)));
    Ok(RedisTarget {
        tls,
        host,
        port: url.port().unwrap_or(DEFAULT_REDIS_PORT),
        db,
        username,
        password,
    })
}

/// `base/first` plus `+N` for the other N names, so the name stays short.
fn with_more(base: String, names: &[&String]) -> String {
    match names {
        [] => base,
        [one] => format!("{base}/{one}"),
        [first, rest @ ..] => format!("{base}/{first}+{}", rest.len()),
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_QUERY_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
}

fn query<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = params
        .map(|(k, v)| format!("{k}={}", percent_encode(v, is_query_safe)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Query values keep `:` `*` `/` readable; only what would change the parse is encoded.
fn is_query_safe(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'%' | b'&' | b'=' | b'#' | b'+' | b'?')
}

fn is_userinfo_safe(b: u8) -> bool {
    // Unreserved characters, plus `*` (so the `***` mask stays readable) and the
    // `${...}` of references.
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*' | b'$' | b'{' | b'}')
}

fn percent_encode(s: &str, safe: fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if safe(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; invalid escapes are kept as written, invalid UTF-8 is
/// replaced, so a malformed password cannot make parsing panic.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space), as
/// `Url::query_pairs` does.
fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(
        pairs: &'a [(&'a str, &'a str)],
    ) -> impl FnMut(&str) -> Result<Option<String>, SecretError> + 'a {
        move |name| {
            Ok(pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()))
        }
    }

    fn parse(s: &str) -> SourceUrl {
        SourceUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn redis_pubsub_with_everything() {
        let u = parse(
            "redis://alice:s3cret@cache.local:6380/2?channel=a&channel=b&pattern=test:*:status",
        );
        let SourceUrl::RedisPubSub {
            conn,
            channels,
            patterns,
        } = &u
        else {
            panic!("{u:?}")
        };
        assert!(!conn.tls);
        assert_eq!(conn.host, "cache.local");
        assert_eq!(conn.port, 6380);
        assert_eq!(conn.db, 2);
        assert_eq!(conn.username.as_deref(), Some("alice"));
        assert_eq!(conn.password, Some(Secret::new("s3cret")));
        assert_eq!(channels, &["a", "b"]);
        assert_eq!(patterns, &["test:*:status"]);
        assert_eq!(u.kind(), "redis");
        assert_eq!(u.literal_secrets(), vec!["password"]);
    }

    #[test]
    fn redis_defaults_port_and_db() {
        let u = parse("rediss://localhost?pattern=*");
        let conn = u.redis_target().unwrap();
        assert!(conn.tls);
        assert_eq!((conn.port, conn.db), (6379, 0));
        assert_eq!(conn.username, None);
        assert_eq!(conn.password, None);
        assert_eq!(conn.connection_url().unwrap(), "rediss://localhost:6379/0");
    }

    #[test]
    fn redis_connection_url_resolves_password_reference() {
        let u = parse("redis://:${REDIS_PW}@localhost:6379/1?channel=x");
        let conn = u.redis_target().unwrap();
        assert!(u.literal_secrets().is_empty());
        assert_eq!(
            conn.connection_url_with(env(&[("REDIS_PW", "p@ss:w/rd")]))
                .unwrap(),
            "redis://:p%40ss%3Aw%2Frd@localhost:6379/1"
        );
        let err = conn.connection_url_with(env(&[])).unwrap_err();
        assert_eq!(
            err,
            SecretError::Missing {
                name: "REDIS_PW".into()
            }
        );
        // The redis crate must read back exactly the password we resolved.
        let parsed = Url::parse(
            &conn
                .connection_url_with(env(&[("REDIS_PW", "p@ss:w/rd")]))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(percent_decode(parsed.password().unwrap()), "p@ss:w/rd");
    }

    #[test]
    fn passwords_never_displayed() {
        for (input, secret) in [
            ("redis://user:hunter2@h:1/0?channel=c", "hunter2"),
            ("rediss://:hunter2@h?pattern=p", "hunter2"),
            ("bullmqs://u:hunter2@h/3?queue=q", "hunter2"),
            ("https://u:hunter2@api.example.com/events", "hunter2"),
            (
                "https://api.example.com/events?token=hunter2&x=1",
                "hunter2",
            ),
            ("http://h/e?access_token=hunter2", "hunter2"),
            ("http://h/e?x=1&API_KEY=hunter2", "hunter2"),
        ] {
            let u = parse(input);
            for shown in [
                u.to_string(),
                format!("{u:?}"),
                u.default_name(),
                u.redis_target()
                    .map(|c| c.display_url())
                    .unwrap_or_default(),
            ] {
                assert!(!shown.contains(secret), "{input} shown as {shown}");
            }
            assert!(u.to_string().contains("***"), "{u}");
            assert!(!u.literal_secrets().is_empty(), "{input}");
        }
    }

    #[test]
    fn display_forms() {
        assert_eq!(
            parse("redis://user:pw@h:1/2?channel=a&pattern=b*").to_string(),
            "redis://user:***@h:1/2?channel=a&pattern=b*"
        );
        assert_eq!(parse("bullmq://h").to_string(), "bullmq://h:6379/0");
        assert_eq!(
            parse("bullmqs://h?queue=a&prefix=myapp").to_string(),
            "bullmqs://h:6379/0?queue=a&prefix=myapp"
        );
        assert_eq!(
            parse("https://api.example.com/events?token=abc&tenant=acme").to_string(),
            "https://api.example.com/events?token=***&tenant=acme"
        );
    }

    #[test]
    fn round_trips_through_display() {
        for input in [
            "redis://localhost:6379/0?channel=batch-progress",
            "redis://user@h:1/2?channel=a&channel=b&pattern=test:*:status&pattern=job:%3F",
            "rediss://[::1]:7000/5?pattern=a%26b%3Dc%23d",
            "bullmq://localhost",
            "bullmqs://h:6390/1?queue=emails&queue=pdf&prefix=acme",
            "https://api.example.com:8443/api/v1/sse/connect?tenant=acme",
            "http://localhost:8000/events",
        ] {
            let first = parse(input);
            let again = parse(&first.to_string());
            assert_eq!(first, again, "{input} -> {first}");
            assert_eq!(first.to_string(), again.to_string());
        }
    }

    #[test]
    fn query_values_are_decoded() {
        let u = parse("redis://h?pattern=job:%3F&channel=a%26b&channel=with+space");
        let SourceUrl::RedisPubSub {
            channels, patterns, ..
        } = u
        else {
            panic!()
        };
        assert_eq!(patterns, ["job:?"]);
        assert_eq!(channels, ["a&b", "with space"]);
    }

    #[test]
    fn duplicate_channels_are_subscribed_once() {
        let u = parse("redis://h?channel=a&channel=a");
        let SourceUrl::RedisPubSub { channels, .. } = u else {
            panic!()
        };
        assert_eq!(channels, ["a"]);
    }

    #[test]
    fn bullmq_forms() {
        let u = parse("bullmq://localhost:6379/0?queue=emails&prefix=bull");
        assert_eq!(
            u,
            SourceUrl::BullMq {
                conn: RedisTarget {
                    tls: false,
                    host: "localhost".into(),
                    port: 6379,
                    db: 0,
                    username: None,
                    password: None,
                },
                queues: vec!["emails".into()],
                prefix: "bull".into(),
            }
        );
        assert_eq!(u.kind(), "bullmq");
        let discover = parse("bullmqs://redis.internal");
        let SourceUrl::BullMq {
            conn,
            queues,
            prefix,
        } = &discover
        else {
            panic!()
        };
        assert!(conn.tls);
        assert!(queues.is_empty());
        assert_eq!(prefix, "bull");
        assert_eq!(
            conn.connection_url().unwrap(),
            "rediss://redis.internal:6379/0"
        );
    }

    #[test]
    fn sse_keeps_token_and_resolves_references() {
        let u = parse("https://api.example.com/events?token=${API_TOKEN}&tenant=acme");
        let SourceUrl::Sse { url } = &u else { panic!() };
        assert!(u.literal_secrets().is_empty());
        let resolved = url.resolve_with(env(&[("API_TOKEN", "a&b c")])).unwrap();
        let pairs: Vec<(String, String)> = resolved.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("token".to_string(), "a&b c".to_string()),
                ("tenant".to_string(), "acme".to_string())
            ]
        );
        assert_eq!(
            url.resolve_with(env(&[])).unwrap_err(),
            SecretError::Missing {
                name: "API_TOKEN".into()
            }
        );
        // A literal token is kept as part of the URL, only masked for display.
        let lit = parse("http://h/e?token=abc");
        let SourceUrl::Sse { url } = &lit else {
            panic!()
        };
        assert_eq!(
            url.resolve_with(env(&[])).unwrap().as_str(),
            "http://h/e?token=abc"
        );
        assert_eq!(lit.literal_secrets(), vec!["query parameter \"token\""]);
    }

    #[test]
    fn sse_password_reference_resolves() {
        let u = parse("https://bob:${PW}@h/e");
        let SourceUrl::Sse { url } = &u else { panic!() };
        let r = url.resolve_with(env(&[("PW", "x@y")])).unwrap();
        assert_eq!(r.username(), "bob");
        assert_eq!(percent_decode(r.password().unwrap()), "x@y");
        assert_eq!(u.to_string(), "https://bob:***@h/e");
    }

    #[test]
    fn default_names() {
        for (input, name) in [
            (
                "http://localhost:8000/api/v1/sse/connect",
                "localhost:8000/api/v1/sse/connect",
            ),
            ("https://api.example.com/", "api.example.com"),
            (
                "https://api.example.com/events/?token=t",
                "api.example.com/events",
            ),
            (
                "redis://:pw@localhost:6379/0?channel=batch-progress",
                "localhost:6379/batch-progress",
            ),
            ("redis://h?channel=a&channel=b&pattern=c*", "h:6379/a+2"),
            ("redis://h/3?pattern=test:*", "h:6379/3/test:*"),
            ("bullmq://h?queue=emails", "h:6379/bull:emails"),
            ("bullmq://h?prefix=acme", "h:6379/acme:*"),
        ] {
            assert_eq!(parse(input).default_name(), name, "{input}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong_with_an_example() {
        let cases: &[(&str, &str)] = &[
            ("", "empty source URL"),
            ("localhost:6379", "missing scheme"),
            (
                "ftp://h/x",
                "unsupported scheme \"ftp\" (use http, https, redis, rediss, bullmq or bullmqs)",
            ),
            ("redis://", "has no host"),
            (
                "redis://h:6379/x?channel=a",
                "database number such as /0, not \"/x\"",
            ),
            ("redis://h:6379/1/2?channel=a", "not \"/1/2\""),
            ("redis://h:6379/0", "nothing to subscribe to"),
            (
                "redis://h?queue=emails",
                "BullMQ queues are read with bullmq://",
            ),
            ("redis://h?chanel=a", "unknown parameter \"chanel\""),
            ("redis://h?channel=", "parameter \"channel\" is empty"),
            (
                "bullmq://h?channel=a",
                "pub/sub channels are read with redis://",
            ),
            ("bullmq://h?prefix=a&prefix=b", "may appear only once"),
            ("redis://h?channel=a#b", "cannot have a #fragment"),
            ("redis://h:99999?channel=a", "not a valid URL"),
            ("http://", "not a valid URL"),
        ];
        for (input, want) in cases {
            let err = SourceUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err}");
        }
        // Every structural error carries an example of a valid URL.
        let err = SourceUrl::parse("redis://h:6379/0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis://"), "{err}");
    }

    #[test]
    fn error_messages_never_echo_passwords() {
        for input in [
            "redis://u:hunter2@h/x?channel=a",
            "redis://u:hunter2@h",
            "bullmq://u:hunter2@h?bogus=1",
            "redis://u:hunter2@h:99999?channel=a",
        ] {
            let err = SourceUrl::parse(input).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn percent_decode_tolerates_garbage() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}

#[cfg(test)]
mod prop {
    use super::SourceUrl;

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,80}") {
            let _ = SourceUrl::parse(&s);
        }

        /// Anything that parses displays as something that parses to the same value
        /// (when it holds no password, which `Display` masks by design).
        #[test]
        fn display_round_trips(
            scheme in "(redis|rediss|bullmq|bullmqs)",
            host in "[a-z][a-z0-9.-]{0,10}",
            port in 1u16..,
            db in 0u32..16,
            names in proptest::collection::vec("[ -~]{1,12}", 1..4),
        ) {
            let key = if scheme.starts_with("redis") { "channel" } else { "queue" };
            let query: Vec<String> = names
                .iter()
                .map(|n| format!("{key}={}", super::percent_encode(n, super::is_query_safe)))
                .collect();
            let input = format!("{scheme}://{host}:{port}/{db}?{}", query.join("&"));
            let first = SourceUrl::parse(&input).unwrap();
            let again = SourceUrl::parse(&first.to_string()).unwrap();
            proptest::prop_assert_eq!(first, again);
        }
    }
}
