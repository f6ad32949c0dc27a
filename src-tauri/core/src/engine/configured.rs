//! Starting sources from their configuration: one entry point for the config file,
//! `telltale serve --source` and the desktop app. Secrets are resolved here, at use
//! time, and go no further than the client that needs them.

use crate::config::{lookup_env, SecretError, SourceConfig};
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
    /// overview still lists it. The source runs in a scope of its own, so
    /// [`Engine::stop_source`] can stop it alone.
    pub fn add_configured_source(&self, source: &SourceConfig) -> Result<(), SourceStartError> {
        if !source.enabled {
            self.source_states().set(&source.name, SourceHealth::Disabled, None, None);
            return Ok(());
        }
        let scoped = self.scoped(&source.name);
        let result = match &source.url {
            SourceUrl::Sse { .. } => scoped.start_sse(source),
            other => scoped.start_redis_family(source, other),
        };
        self.adopt_scope(&scoped);
        if let Err(e) = &result {
            self.drop_scope(&source.name);
            self.source_states()
                .set(&source.name, SourceHealth::Stopped, Some(e.to_string()), None);
        }
        result
    }

    fn start_sse(&self, source: &SourceConfig) -> Result<(), SourceStartError> {
        let cfg = sse_client_config(source, lookup_env)?;
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

/// The SSE client's configuration for a configured source, with its secrets resolved
/// through `lookup` (the environment and keychain for a running source; the relay's
/// connection test passes values typed in the UI that are not stored yet). The result
/// holds secret values: never log it.
pub fn sse_client_config<F>(source: &SourceConfig, mut lookup: F) -> Result<SseSourceConfig, SourceStartError>
where
    F: FnMut(&str) -> Result<Option<String>, SecretError>,
{
    let name = source.name.clone();
    let secret = |error| SourceStartError::Secret {
        source_name: name.clone(),
        error,
    };
    let SourceUrl::Sse { url } = &source.url else {
        return Err(SourceStartError::Other {
            source_name: source.name.clone(),
            message: format!("a {} source is not an SSE source", source.url.kind()),
        });
    };
    let mut cfg = SseSourceConfig::new(&source.name, url.resolve_with(&mut lookup).map_err(secret)?.to_string());
    for (k, v) in &source.headers {
        cfg.headers.push((k.clone(), v.resolve_with(&mut lookup).map_err(secret)?));
    }
    cfg.bearer = source.bearer.as_ref().map(|s| s.resolve_with(&mut lookup)).transpose().map_err(secret)?;
    cfg.query_token = source.token.as_ref().map(|s| s.resolve_with(&mut lookup)).transpose().map_err(secret)?;
    cfg.idle_timeout = source.idle_timeout;
    cfg.follow = source.follow;
    if !source.subscribe.is_empty() {
        cfg.subscribe = Some(TwoStep::new(source.subscribe.clone()));
    }
    Ok(cfg)
}
