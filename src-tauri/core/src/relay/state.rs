//! What every handler shares: the hub, the sources' states, the access rules and a few
//! pooled store readers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::engine::SourceStates;
use crate::hub::Hub;
use crate::store::{Reader, StoreError};

use super::error::ApiError;
use super::rate_limit::RateLimiter;
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
}

/// Idle readers kept for JSON requests; more are opened under load and dropped after.
const POOLED_READERS: usize = 4;

impl Shared {
    pub fn new(
        hub: Arc<Hub>,
        sources: SourceStates,
        opts: RelayOptions,
        port: u16,
        cancel: CancellationToken,
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
        }
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
