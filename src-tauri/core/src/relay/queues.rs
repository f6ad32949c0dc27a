//! `/api/queues`: each queue's latest counts (from the board), how its counts moved
//! over a recent window (from its stored queue events), and a tally of the board's
//! jobs in it by status (for sources that never report counts themselves).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;

use crate::board::EntityState;
use crate::model::{now_millis, EntityKind, Millis, QueueCounts};
use crate::store::EventFilter;

use super::error::ApiError;
use super::params::Params;
use super::state::AppState;

/// An hour of history by default; enough for a sparkline.
const DEFAULT_WINDOW_MS: Millis = 60 * 60 * 1000;
/// Queue events read per request, newest first; older points are dropped.
const MAX_POINTS: usize = 5_000;

#[derive(Serialize)]
pub(crate) struct CountsAt {
    pub at: Millis,
    pub seq: u64,
    pub counts: QueueCounts,
}

#[derive(Serialize)]
pub(crate) struct QueueRow {
    pub queue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<EntityState>,
    /// Jobs on the board whose queue is this one, by status.
    pub jobs: BTreeMap<String, u64>,
    /// Oldest first.
    pub history: Vec<CountsAt>,
}

#[derive(Serialize)]
pub(crate) struct Queues {
    pub items: Vec<QueueRow>,
    pub from: Millis,
}

pub(crate) async fn list(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Queues>, ApiError> {
    let p = Params::parse(q.as_deref());
    let from = p
        .time("from")?
        .unwrap_or_else(|| now_millis() - DEFAULT_WINDOW_MS);
    let filter = EventFilter {
        kind: Some(EntityKind::Queue),
        source: p.text("source").map(str::to_string),
        from: Some(from),
        ..EventFilter::default()
    };
    let recent = s.read(move |r| r.query(&filter, MAX_POINTS)).await?;

    let mut rows: BTreeMap<String, QueueRow> = BTreeMap::new();
    {
        let board = s.hub.board();
        let board = board.read().unwrap_or_else(|e| e.into_inner());
        let mut tallies: HashMap<&str, BTreeMap<String, u64>> = HashMap::new();
        for e in board.iter() {
            match e.kind {
                EntityKind::Queue => {
                    rows.insert(e.entity.clone(), row(&e.entity, Some(e.clone())));
                }
                EntityKind::Job => {
                    if let Some(q) = &e.parent {
                        *tallies
                            .entry(q)
                            .or_default()
                            .entry(e.status.to_string())
                            .or_default() += 1;
                    }
                }
                _ => {}
            }
        }
        for (name, jobs) in tallies {
            if let Some(r) = rows.get_mut(name) {
                r.jobs = jobs;
            }
        }
    }
    // Newest first from the store; each queue's points are wanted oldest first.
    for e in recent.into_iter().rev() {
        if let (Some(r), Some(counts)) = (rows.get_mut(&e.entity), e.counts) {
            r.history.push(CountsAt {
                at: e.occurred_at.unwrap_or(e.received_at),
                seq: e.seq,
                counts,
            });
        }
    }
    Ok(Json(Queues {
        items: rows.into_values().collect(),
        from,
    }))
}

fn row(name: &str, state: Option<EntityState>) -> QueueRow {
    QueueRow {
        queue: name.to_string(),
        state,
        jobs: BTreeMap::new(),
        history: Vec::new(),
    }
}
