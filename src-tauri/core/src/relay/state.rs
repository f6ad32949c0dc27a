//! What every handler shares: the hub, the sources' states, the access rules, a few
//! pooled store readers, and for the write endpoints the engine, the config file and
//! the live notification rules.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, SourceStates};
use crate::hub::Hub;
use crate::store::{Reader, StoreError};

use super::error::{codes, ApiError};
use super::rate_limit::RateLimiter;
use super::rules::LiveRules;
use super::RelayOptions;

pub(crate) type AppState = Arc<Shared>;

pub(crate) struct Shared {
    pub hub: Arc<Hub>,
    pub sources: SourceStates,
    pub opts: RelayOptions,
    /// The port the relay listens on: the only one a `Host` header may name.
    pub port: u16,
    pub limiter: RateLimiter,
    /// Ends every SSE stream, so a graceful shutdown does not wait on them forever.
    pub cancel: CancellationToken,
    pub clients: AtomicUsize,
    readers: Mutex<Vec<Reader>>,
    /// Starts and stops sources on edits; `None` for a relay over a bare hub.
    pub engine: Option<Engine>,
    /// Edits are applied one at a time: read the file, change it, check it, write it
    /// and apply it live, with no other edit in between.
    pub edits: tokio::sync::Mutex<()>,
    /// The rules the desktop shell follows (see [`super::Relay::rules`]).
    pub rules: Arc<watch::Sender<LiveRules>>,
}

/// Idle readers kept for JSON requests; more are opened under load and dropped after.
const POOLED_READERS: usize = 4;

impl Shared {
    pub fn new(
        hub: Arc<Hub>,
        sources: SourceStates,
        engine: Option<Engine>,
        opts: RelayOptions,
        port: u16,
        cancel: CancellationToken,
        rules: Arc<watch::Sender<LiveRules>>,
    ) -> Self {
        let limiter = RateLimiter::new(opts.rate_limit);
        Shared {
            hub,
            sources,
            opts,
            port,
            limiter,
            cancel,
            clients: AtomicUsize::new(0),
            readers: Mutex::new(Vec::new()),
            engine,
            edits: tokio::sync::Mutex::new(()),
            rules,
        }
    }

    /// The config file edits go to, or why there is none.
    pub fn config_file(&self) -> Result<&Path, ApiError> {
        self.opts.config_file.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                codes::NO_CONFIG_FILE,
                "this relay was started without a config file to save changes to; start telltale with a config file (--config PATH or the default location)",
            )
        })
    }

    /// The engine that runs the sources, or why edits cannot be applied.
    pub fn engine(&self) -> Result<&Engine, ApiError> {
        self.engine.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                codes::NO_ENGINE,
                "this relay serves a history without running sources; sources cannot be changed here",
            )
        })
    }

    /// The config file, if any; for reads that show the configuration.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.opts.config_file.clone()
    }

    /// Runs a store query on the blocking pool with a pooled reader.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let reader = match me.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                Some(r) => r,
                None => Reader::open(me.hub.db_path())?,
            };
            let out = f(&reader);
            let mut pool = me.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOLED_READERS {
                pool.push(reader);
            }
            out
        })
        .await?
        .map_err(ApiError::from)
    }

    /// Counts an SSE client for as long as the guard lives.
    pub fn client_guard(self: &Arc<Self>) -> ClientGuard {
        self.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(self.clone())
    }
}

pub(crate) struct ClientGuard(AppState);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}
