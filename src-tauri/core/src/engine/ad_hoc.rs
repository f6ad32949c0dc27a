//! Sources given on the command line (`telltale serve --source URL -H 'Name: value'`),
//! as opposed to the config file's `[[sources]]`. They go through the same path as
//! configured sources, named from their URL.

use std::collections::HashSet;

use anyhow::Context;

use super::Engine;
use crate::config::{Secret, SourceConfig};
use crate::source::url::SourceUrl;

impl Engine {
    /// Adds one source per URL (the `telltale tail` URL syntax); `headers` apply to
    /// every SSE source among them. Header values may be `${ENV}` references.
    /// Every URL is checked before any source starts, so a typo fails the command.
    pub fn add_source_urls(
        &self,
        urls: &[String],
        headers: &[(String, String)],
    ) -> anyhow::Result<()> {
        let mut configs = Vec::with_capacity(urls.len());
        let mut names = HashSet::new();
        for url in urls {
            let parsed =
                SourceUrl::parse(url).with_context(|| format!("--source {}", redact_arg(url)))?;
            let mut cfg = SourceConfig::ad_hoc(parsed);
            // Two URLs may give the same name (same host, other path): keep them apart.
            let base = cfg.name.clone();
            let mut n = 2;
            while !names.insert(cfg.name.clone()) {
                cfg.name = format!("{base}#{n}");
                n += 1;
            }
            if matches!(cfg.url, SourceUrl::Sse { .. }) {
                for (k, v) in headers {
                    cfg.headers.insert(k.clone(), Secret::new(v.clone()));
                }
            }
            configs.push(cfg);
        }
        for cfg in &configs {
            self.add_configured_source(cfg)?;
        }
        Ok(())
    }
}

/// The URL as it may appear in an error: parsed and shown without secrets, or only
/// its scheme when it does not parse.
fn redact_arg(url: &str) -> String {
    match SourceUrl::parse(url) {
        Ok(u) => u.to_string(),
        Err(_) => url
            .split("://")
            .next()
            .map(|s| format!("{s}://…"))
            .unwrap_or_default(),
    }
}
