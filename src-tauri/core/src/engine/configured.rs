//! Starting sources from their configuration: one entry point for the config file,
//! `telltale serve --source` and the desktop app. Secrets are resolved here, at use
//! time, and go no further than the client that needs them.

use crate::config::{lookup_env, SecretError, SourceConfig};
use crate::source::bullmq::BullMqConfig;
use crate::source::redis::{RedisPubSubConfig, RedisSourceError};
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
    #[error("source {source_name}: not an SSE source (its URL is not http or https)")]
    NotSse { source_name: String },
    #[error("source {source_name}: {error}")]
    Redis {
        source_name: String,
        #[source]
        error: RedisSourceError,
    },
}

impl Engine {
    /// Starts one configured source. A disabled source is registered as such, so the
    /// overview still lists it. The source runs in a scope of its own, so
    /// [`Engine::stop_source`] can stop it alone.
    pub fn add_configured_source(&self, source: &SourceConfig) -> Result<(), SourceStartError> {
        if !source.enabled {
            self.source_states()
                .set(&source.name, SourceHealth::Disabled, None, None);
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
            self.source_states().set(
                &source.name,
                SourceHealth::Stopped,
                Some(e.to_string()),
                None,
            );
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

    fn start_redis_family(
        &self,
        source: &SourceConfig,
        url: &SourceUrl,
    ) -> Result<(), SourceStartError> {
        let redis = |error: RedisSourceError| SourceStartError::Redis {
            source_name: source.name.clone(),
            error,
        };
        match url {
            SourceUrl::RedisPubSub {
                conn,
                channels,
                patterns,
            } => {
                let cfg = RedisPubSubConfig::new(
                    &source.name,
                    conn.clone(),
                    channels.clone(),
                    patterns.clone(),
                );
                self.add_redis_source(cfg, source.overrides.clone())
                    .map_err(redis)
            }
            SourceUrl::BullMq {
                conn,
                queues,
                prefix,
            } => {
                let mut cfg =
                    BullMqConfig::new(&source.name, conn.clone(), queues.clone(), prefix.clone());
                cfg.counts_interval = source.poll_interval;
                self.add_bullmq_source(cfg).map_err(redis)
            }
            SourceUrl::Sse { .. } => self.start_sse(source),
        }
    }
}

/// The SSE client's configuration for a configured source, with its secrets resolved
/// through `lookup` (the environment and the keychain, or values typed in the UI for a
/// one-off test).
pub fn sse_client_config<F>(
    source: &SourceConfig,
    mut lookup: F,
) -> Result<SseSourceConfig, SourceStartError>
where
    F: FnMut(&str) -> Result<Option<String>, SecretError>,
{
    let secret = |error| SourceStartError::Secret {
        source_name: source.name.clone(),
        error,
    };
    let SourceUrl::Sse { url } = &source.url else {
        return Err(SourceStartError::NotSse {
            source_name: source.name.clone(),
        });
    };
    let mut cfg = SseSourceConfig::new(
        &source.name,
        url.resolve_with(&mut lookup).map_err(secret)?.to_string(),
    );
    for (k, v) in &source.headers {
        cfg.headers
            .push((k.clone(), v.resolve_with(&mut lookup).map_err(secret)?));
    }
    cfg.bearer = source
        .bearer
        .as_ref()
        .map(|s| s.resolve_with(&mut lookup))
        .transpose()
        .map_err(secret)?;
    cfg.query_token = source
        .token
        .as_ref()
        .map(|s| s.resolve_with(&mut lookup))
        .transpose()
        .map_err(secret)?;
    cfg.idle_timeout = source.idle_timeout;
    cfg.follow = source.follow;
    if !source.subscribe.is_empty() {
        cfg.subscribe = Some(TwoStep::new(source.subscribe.clone()));
    }
    Ok(cfg)
}
