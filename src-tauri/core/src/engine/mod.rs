//! The engine: the hub plus every source task, under one cancellation token and task
//! tracker (DESIGN §10). `telltale serve`, `telltale demo` and the desktop app all
//! run one.

mod configured;
mod ad_hoc;
mod source_state;
mod bullmq_source;
mod redis_source;
mod sse_source;

pub use configured::SourceStartError;
pub use source_state::{SourceHealth, SourceState, SourceStates};

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::{Hub, HubOptions};
use crate::store::{Retention, StoreError};

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub db: PathBuf,
    pub retention: Retention,
}

pub struct Engine {
    hub: Arc<Hub>,
    states: SourceStates,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Engine {
    /// Opens the store and starts the hub. Sources are added with the `add_*` methods
    /// (or [`Engine::spawn_source`] for a custom task).
    pub fn start(opts: EngineOptions) -> Result<Engine, StoreError> {
        let mut hub_opts = HubOptions::new(opts.db);
        hub_opts.retention = opts.retention;
        let hub = Arc::new(Hub::start(hub_opts)?);
        Ok(Engine {
            hub,
            states: SourceStates::default(),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn source_states(&self) -> &SourceStates {
        &self.states
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Runs a source task under the engine's cancellation and tracking.
    pub fn spawn_source<F>(&self, name: &str, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.states.register(name);
        self.tasks.spawn(task);
    }

    /// Stops every source, waits for them, then commits what is pending and stops the
    /// hub. Nothing already handed to the hub is lost.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        let hub = self.hub;
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(hub) = Arc::try_unwrap(hub) {
                hub.shutdown();
            }
            // Otherwise another holder (the relay) drops it last; Drop commits too.
        })
        .await;
    }
}
