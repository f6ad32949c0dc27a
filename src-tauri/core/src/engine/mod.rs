//! The engine: the hub plus every source task, under one cancellation token and task
//! tracker (DESIGN §10). `telltale serve`, `telltale demo` and the desktop app all
//! run one.
//!
//! Configured sources ([`Engine::add_configured_source`]) each run under a child of
//! that token and a tracker of their own, so one of them can be stopped and waited for
//! ([`Engine::stop_source`]) when the operator edits, disables or deletes it, while
//! the rest keep running. Shutting the engine down still stops them all.

mod ad_hoc;
mod bullmq_source;
mod configured;
mod redis_source;
mod source_state;
mod sse_source;

pub use configured::{sse_client_config, SourceStartError};
pub use source_state::{SourceHealth, SourceState, SourceStates};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::{Hub, HubOptions};
use crate::store::{Retention, StoreError};

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub db: PathBuf,
    pub retention: Retention,
}

/// A handle on the engine. Clones share everything (the relay keeps one to start and
/// stop sources); [`Engine::shutdown`] on any of them stops the whole engine.
#[derive(Clone)]
pub struct Engine {
    hub: Arc<Hub>,
    states: SourceStates,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// Configured sources that can be stopped one by one, by name.
    scopes: Arc<Mutex<HashMap<String, SourceScope>>>,
}

/// One configured source's cancellation and tasks (its client and its pump).
struct SourceScope {
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// How long [`Engine::stop_source`] waits for a source's tasks to store what they hold.
const SOURCE_STOP_GRACE: Duration = Duration::from_secs(10);

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
            scopes: Arc::default(),
        })
    }

    /// A handle whose source tasks run under their own child token and tracker, for
    /// the configured source `name`: whatever the `add_*` methods start through it can
    /// be stopped with [`Engine::stop_source`]. A source already running under that
    /// name is cancelled (not waited for; call `stop_source` first to wait).
    pub(crate) fn scoped(&self, name: &str) -> Engine {
        let scope = SourceScope {
            cancel: self.cancel.child_token(),
            tasks: TaskTracker::new(),
        };
        let view = Engine {
            hub: self.hub.clone(),
            states: self.states.clone(),
            cancel: scope.cancel.clone(),
            tasks: scope.tasks.clone(),
            scopes: self.scopes.clone(),
        };
        let previous = self
            .scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), scope);
        if let Some(old) = previous {
            old.cancel.cancel();
        }
        view
    }

    /// Called once a scoped handle has started its tasks: the engine's own tracker
    /// then waits for them too, so [`Engine::shutdown`] still waits for every source.
    pub(crate) fn adopt_scope(&self, scoped: &Engine) {
        scoped.tasks.close();
        let tasks = scoped.tasks.clone();
        self.tasks.spawn(async move { tasks.wait().await });
    }

    /// Stops the configured source `name` and waits (up to a grace period) until its
    /// tasks have handed everything they read to the hub. Returns false when no
    /// configured source of that name runs. Its live state is left as the source last
    /// reported it; the caller sets what comes next (disabled, removed, restarted).
    pub async fn stop_source(&self, name: &str) -> bool {
        let scope = self
            .scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        let Some(scope) = scope else {
            return false;
        };
        scope.cancel.cancel();
        scope.tasks.close();
        if tokio::time::timeout(SOURCE_STOP_GRACE, scope.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(source = %name, "source tasks still running after the stop grace period");
        }
        true
    }

    /// Forgets the scope of a source that failed to start (nothing runs in it).
    pub(crate) fn drop_scope(&self, name: &str) {
        let scope = self
            .scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(s) = scope {
            s.cancel.cancel();
        }
    }

    /// Whether a configured source of this name is running (started and not stopped).
    pub fn is_source_running(&self, name: &str) -> bool {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .is_some_and(|s| !s.cancel.is_cancelled())
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
