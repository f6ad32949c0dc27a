//! A configured source as `GET /api/sources` shows it under `config`: everything the
//! Sources view needs to edit it, and no secret. References (`${API_TOKEN}`,
//! `${keychain:api}`) are names and shown as written; a secret written in full in the
//! file is shown only as "there is a literal".

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::config::edit::ConfigFile;
use crate::config::{Secret, SourceConfig};
use crate::source::url::SourceUrl;

/// A secret as shown: its reference, or the fact that the file holds it in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum SecretView {
    Ref {
        #[serde(rename = "ref")]
        reference: String,
    },
    Literal {
        literal: bool,
    },
}

impl SecretView {
    pub fn of(secret: &Secret) -> SecretView {
        match secret.reference() {
            Some(r) => SecretView::Ref {
                reference: r.to_string(),
            },
            None => SecretView::Literal { literal: true },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SourceConfigView {
    pub name: String,
    /// As written, with literal passwords and secret query values as `***`.
    pub url: String,
    pub enabled: bool,
    pub headers: BTreeMap<String, SecretView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer: Option<SecretView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretView>,
    /// SSE only; 0 = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Vec<String>>,
    /// BullMQ only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_s: Option<u64>,
}

impl SourceConfigView {
    /// `written_url` is the `url` string from the file (the parsed form has lost how
    /// references were written).
    pub fn new(source: &SourceConfig, written_url: &str) -> SourceConfigView {
        let sse = matches!(source.url, SourceUrl::Sse { .. });
        let bullmq = matches!(source.url, SourceUrl::BullMq { .. });
        SourceConfigView {
            name: source.name.clone(),
            url: shown_url(written_url, &source.url),
            enabled: source.enabled,
            headers: source
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), SecretView::of(v)))
                .collect(),
            bearer: source.bearer.as_ref().map(SecretView::of),
            token: source.token.as_ref().map(SecretView::of),
            idle_timeout_s: sse.then_some(source.idle_timeout.as_secs()),
            follow: sse.then_some(source.follow),
            subscribe: (sse && !source.subscribe.is_empty()).then(|| source.subscribe.clone()),
            poll_interval_s: bullmq.then_some(source.poll_interval.as_secs()),
        }
    }
}

/// The views of every source in the config file at `path`, by name. A file that cannot
/// be read or does not load gives none (the sources still show their live state).
pub(crate) fn load_views(path: &Path) -> BTreeMap<String, SourceConfigView> {
    let file = match ConfigFile::open(path) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "config file not shown");
            return BTreeMap::new();
        }
    };
    let config = match file.check() {
        Ok((config, _)) => config,
        Err(e) => {
            tracing::debug!(error = %e, "config file not shown");
            return BTreeMap::new();
        }
    };
    config
        .sources
        .iter()
        .map(|s| {
            let written = file.source_str(&s.name, "url").unwrap_or_default();
            (s.name.clone(), SourceConfigView::new(s, written))
        })
        .collect()
}

/// The URL as written, with a literal password and literal values of secret query
/// parameters (those the URL's own `Display` masks, such as `token`) replaced by
/// `***`. References stay: they are names, and the operator needs to see them.
pub(crate) fn shown_url(written: &str, parsed: &SourceUrl) -> String {
    let written = written.trim();
    let Some((scheme, rest)) = written.split_once("://") else {
        return parsed.to_string();
    };
    let secret_keys = masked_query_keys(parsed);
    let end_of_authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end_of_authority);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, password)) if is_literal(password) => format!("{user}:***@{host}"),
            _ => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (tail, None),
    };
    let tail = match before_fragment.split_once('?') {
        Some((path, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|segment| match segment.split_once('=') {
                    Some((k, v)) if secret_keys.contains(&decode(k)) && is_literal(v) => {
                        format!("{k}=***")
                    }
                    _ => segment.to_string(),
                })
                .collect();
            format!("{path}?{}", masked.join("&"))
        }
        None => before_fragment.to_string(),
    };
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{scheme}://{authority}{tail}{fragment}")
}

/// The query keys whose values the parsed URL's `Display` hides: the one list of
/// secret parameter names stays in `source::url`.
fn masked_query_keys(parsed: &SourceUrl) -> HashSet<String> {
    let SourceUrl::Sse { .. } = parsed else {
        return HashSet::new();
    };
    let shown = parsed.to_string();
    let Some((_, query)) = shown.split_once('?') else {
        return HashSet::new();
    };
    query
        .split('&')
        .filter_map(|segment| segment.split_once('='))
        .filter(|(_, v)| *v == "***")
        .map(|(k, _)| decode(k))
        .collect()
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn is_literal(encoded: &str) -> bool {
    Secret::new(decode(encoded)).is_literal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        shown_url(url, &SourceUrl::parse(url).unwrap())
    }

    #[test]
    fn literals_are_masked_and_references_shown() {
        assert_eq!(
            shown("https://u:hunter2@api.example.com/e?token=abc&x=1"),
            "https://u:***@api.example.com/e?token=***&x=1"
        );
        assert_eq!(
            shown("https://api.example.com/e?token=${API_TOKEN}&x=1"),
            "https://api.example.com/e?token=${API_TOKEN}&x=1"
        );
        assert_eq!(
            shown("redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=jobs"),
            "redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=jobs"
        );
        assert_eq!(
            shown("redis://:pw@localhost:6379/0?channel=jobs"),
            "redis://:***@localhost:6379/0?channel=jobs"
        );
        assert_eq!(shown("http://127.0.0.1:9/sse"), "http://127.0.0.1:9/sse");
    }

    #[test]
    fn secret_views() {
        let r = serde_json::to_value(SecretView::of(&Secret::from_keychain("k"))).unwrap();
        assert_eq!(r, serde_json::json!({"ref": "${keychain:k}"}));
        let l = serde_json::to_value(SecretView::of(&Secret::new("x"))).unwrap();
        assert_eq!(l, serde_json::json!({"literal": true}));
    }
}
