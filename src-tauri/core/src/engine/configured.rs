//! Starting sources from their configuration: one entry point for the config file,
//! `telltale serve --source` and the desktop app. Secrets are resolved here, at use
//! time, and go no further than the client that needs them.

use crate::config::{SecretError, SourceConfig};
use crate::source::sse::{SseError, SseSourceConfig, TwoStep};
use crate::source::url::SourceUrl;

use super::{Engine, SourceHealth};

/// Why a configured source could not start. The engine keeps running the others and
/// shows this one as stopped with the reason.
#[derive(Debug, thiserror::Error)]
pub enum SourceStartError {
    #[error("source {source_name}: {error}")]
    Secret {
        source_name: String,
        #[source]
        error: SecretError,
    },
    #[error("source {source_name}: {error}")]
    Sse {
        source_name: String,
        #[source]
        error: SseError,
    },
    #[error("source {source_name}: {message}")]
    Other { source_name: String, message: String },
}

impl Engine {
    /// Starts one configured source. A disabled source is registered as such, so the
    /// overview still lists it.
    pub fn add_configured_source(&self, source: &SourceConfig) -> Result<(), SourceStartError> {
        if !source.enabled {
            self.source_states().set(&source.name, SourceHealth::Disabled, None, None);
            return Ok(());
        }
        let result = match &source.url {
            SourceUrl::Sse { .. } => self.start_sse(source),
            other => self.start_redis_family(source, other),
        };
        if let Err(e) = &result {
            self.source_states()
                .set(&source.name, SourceHealth::Stopped, Some(e.to_string()), None);
        }
        result
    }

    fn start_sse(&self, source: &SourceConfig) -> Result<(), SourceStartError> {
        let name = source.name.clone();
        let secret = |error| SourceStartError::Secret {
            source_name: name.clone(),
            error,
        };
        let SourceUrl::Sse { url } = &source.url else {
            unreachable!("start_sse is only called for SSE URLs")
        };
        let mut cfg = SseSourceConfig::new(&source.name, url.resolve().map_err(secret)?.to_string());
        for (k, v) in &source.headers {
            cfg.headers.push((k.clone(), v.resolve().map_err(secret)?));
        }
        cfg.bearer = source.bearer.as_ref().map(|s| s.resolve()).transpose().map_err(secret)?;
        cfg.query_token = source.token.as_ref().map(|s| s.resolve()).transpose().map_err(secret)?;
        cfg.idle_timeout = source.idle_timeout;
        cfg.follow = source.follow;
        if !source.subscribe.is_empty() {
            cfg.subscribe = Some(TwoStep::new(source.subscribe.clone()));
        }
        self.add_sse_source(cfg, source.overrides.clone())
            .map_err(|error| SourceStartError::Sse {
                source_name: source.name.clone(),
                error,
            })
    }

    fn start_redis_family(&self, source: &SourceConfig, url: &SourceUrl) -> Result<(), SourceStartError> {
        // Wired to the Redis and BullMQ sources as they land (issue 4).
        Err(SourceStartError::Other {
            source_name: source.name.clone(),
            message: format!("{} sources are not supported by this build yet", url.kind()),
        })
    }
}
