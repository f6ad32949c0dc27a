//! Per-source field overrides: JSON pointers (RFC 6901) into the payload.
//!
//! For backends whose shapes the built-in recognition does not know, or reads
//! differently from what the operator wants. Each value is either
//!
//! - a JSON pointer into the payload as received (envelope included), such as
//!   `/data/jobId`; or
//! - `@channel` for the whole channel name, or `@channel/N` for its N-th
//!   `:`-separated segment counted from 0 (`@channel/1` of `orders:42:events` is
//!   `42`), for backends that put the id in the channel name.
//!
//! An override takes precedence wherever it finds a value. Where it finds nothing
//! (absent, `null`, not a JSON payload) the recognised value stands, so one override
//! set serves a source whose messages do not all carry every field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{EntityKind, Status};

use super::extract::{self, clip, MAX_ID};
use super::fields::Fields;
use super::status;

/// Where to find each field in a source's payloads, when the built-in recognition is
/// not what the operator wants. Each value is a JSON pointer such as `/data/jobId`,
/// or `@channel` / `@channel/N` for the channel name or one of its `:` segments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// The prefix that addresses the channel name instead of the payload.
const CHANNEL: &str = "@channel";

/// What an override pointed at.
enum Found<'a> {
    Json(&'a Value),
    Channel(&'a str),
}

impl Found<'_> {
    /// A short value: an id, a kind, a status word, a stage.
    fn label(&self) -> Option<String> {
        match self {
            Found::Json(v) => extract::id(v),
            Found::Channel(s) => (!s.is_empty()).then(|| clip(s, MAX_ID)),
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Found::Json(v) => extract::text(v),
            Found::Channel(s) => (!s.is_empty()).then(|| s.to_string()),
        }
    }
}

impl FieldOverrides {
    pub fn is_empty(&self) -> bool {
        *self == FieldOverrides::default()
    }

    /// Applies every override that finds a value, over what recognition found.
    pub(super) fn apply(&self, payload: Option<&Value>, channel: Option<&str>, f: &mut Fields) {
        if self.is_empty() {
            return;
        }
        let find = |ptr: &Option<String>| ptr.as_deref().and_then(|p| lookup(p, payload, channel));

        let kind_set = find(&self.kind)
            .and_then(|v| v.label())
            .and_then(|k| EntityKind::parse(&k.to_ascii_lowercase()));
        if kind_set.is_some() {
            f.kind = kind_set;
        }
        if let Some(id) = find(&self.entity).and_then(|v| v.label()) {
            // A named entity is a job unless the kind says otherwise: this is how an
            // operator turns a source's unrecognised messages into jobs.
            if kind_set.is_none() && f.kind == Some(EntityKind::Source) {
                f.kind = None;
            }
            f.entity = Some(id);
            f.recognised = true;
        }
        if let Some(p) = find(&self.parent).and_then(|v| v.label()) {
            f.parent = Some(p);
        }
        if let Some(word) = find(&self.status).and_then(|v| v.label()) {
            let kind = f.kind_or_default();
            f.status = Some(status::from_text(&word, kind).unwrap_or(Status::Unknown(word)));
            f.recognised = true;
        }
        if let Some(Found::Json(v)) = find(&self.progress) {
            if let Some(p) = extract::progress(v) {
                f.progress = Some(p);
            }
        }
        if let Some(s) = find(&self.stage).and_then(|v| v.label()) {
            f.stage = Some(s);
        }
        if let Some(m) = find(&self.message).and_then(|v| v.text()) {
            f.message = Some(m);
        }
        if let Some(e) = find(&self.error).and_then(|v| match v {
            Found::Json(v) => extract::error(v),
            channel => channel.text(),
        }) {
            f.error = Some(e);
        }
    }
}

fn lookup<'a>(
    pointer: &str,
    payload: Option<&'a Value>,
    channel: Option<&'a str>,
) -> Option<Found<'a>> {
    if let Some(rest) = pointer.strip_prefix(CHANNEL) {
        let channel = channel?;
        if rest.is_empty() {
            return Some(Found::Channel(channel));
        }
        let n: usize = rest.strip_prefix('/')?.parse().ok()?;
        return channel.split(':').nth(n).map(Found::Channel);
    }
    match payload?.pointer(pointer)? {
        Value::Null => None,
        v => Some(Found::Json(v)),
    }
}
