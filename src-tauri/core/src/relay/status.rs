//! The live-state endpoints: `/api/workers`, `/api/sources` and `/api/health`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::board::EntityState;
use crate::engine::{SourceHealth, SourceState};
use crate::hub::HubHealth;
use crate::model::{EntityKind, Millis, Status};

use super::source_view::{load_views, SourceConfigView};
use super::state::AppState;

#[derive(Serialize)]
pub(crate) struct Workers {
    pub items: Vec<EntityState>,
}

pub(crate) async fn workers(State(s): State<AppState>) -> Json<Workers> {
    let board = s.hub.board();
    let board = board.read().unwrap_or_else(|e| e.into_inner());
    let mut items: Vec<EntityState> = board
        .iter()
        .filter(|e| e.kind == EntityKind::Worker)
        .cloned()
        .collect();
    items.sort_by(|a, b| a.entity.cmp(&b.entity));
    Json(Workers { items })
}

/// A source's connection state plus the last notice it stored (connected, gap, ...).
#[derive(Serialize)]
pub(crate) struct SourceRow {
    #[serde(flatten)]
    pub state: SourceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_notice: Option<Notice>,
    /// How the source is configured (secrets as references); only in `/api/sources`,
    /// and only for sources of the config file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<SourceConfigView>,
}

#[derive(Serialize)]
pub(crate) struct Notice {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: Millis,
}

#[derive(Serialize)]
pub(crate) struct Sources {
    pub items: Vec<SourceRow>,
}

fn source_rows(s: &AppState) -> Vec<SourceRow> {
    let board = s.hub.board();
    let board = board.read().unwrap_or_else(|e| e.into_inner());
    s.sources
        .all()
        .into_iter()
        .map(|state| {
            let last_notice = board.get(EntityKind::Source, &state.name).map(|n| Notice {
                status: n.status.clone(),
                message: n.message.clone(),
                at: n.last_seen,
            });
            SourceRow {
                state,
                last_notice,
                config: None,
            }
        })
        .collect()
}

pub(crate) async fn sources(State(s): State<AppState>) -> Json<Sources> {
    let mut items = source_rows(&s);
    if let Some(path) = s.config_path() {
        // A small file, read on each request so hand edits show too; off the async
        // threads all the same.
        let mut views = tokio::task::spawn_blocking(move || load_views(&path))
            .await
            .unwrap_or_default();
        for row in &mut items {
            row.config = views.remove(&row.state.name);
        }
    }
    Json(Sources { items })
}

#[derive(Serialize)]
pub(crate) struct RelayHealth {
    pub port: u16,
    pub clients: usize,
}

#[derive(Serialize)]
pub(crate) struct Health {
    /// `ok`, or `degraded` when history writes fail or a source is not live.
    pub status: &'static str,
    pub version: &'static str,
    pub hub: HubHealth,
    pub sources: Vec<SourceRow>,
    pub relay: RelayHealth,
}

pub(crate) async fn health(State(s): State<AppState>) -> Json<Health> {
    let hub = s.hub.health();
    let sources = source_rows(&s);
    let degraded = hub.error.is_some()
        || sources.iter().any(|r| {
            matches!(
                r.state.health,
                SourceHealth::Reconnecting | SourceHealth::Stopped
            )
        });
    Json(Health {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        hub,
        sources,
        relay: RelayHealth {
            port: s.port,
            clients: s.clients.load(Ordering::Relaxed),
        },
    })
}
