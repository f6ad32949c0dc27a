//! `/api/jobs` (the board's jobs: filter, sort, page, straight from memory) and
//! `/api/jobs/{id}/timeline` (one job's events across every source, from the store).

use std::cmp::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::board::EntityState;
use crate::model::{now_millis, EntityKind, Event, Millis, Status};

use super::error::{codes, ApiError};
use super::params::Params;
use super::state::AppState;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1_000;
const MAX_TIMELINE: usize = 10_000;

/// A board entry with its duration worked out, so every client agrees on it.
#[derive(Serialize)]
pub(crate) struct Row {
    #[serde(flatten)]
    pub state: EntityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Millis>,
}

#[derive(Serialize)]
pub(crate) struct Page {
    pub items: Vec<Row>,
    /// Matching jobs before paging.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// Read before the board: open `/events?since=<last_seq>` to follow on from this
    /// page with nothing missed (an event may arrive twice; folding it again is
    /// harmless for a board).
    pub last_seq: u64,
}

#[derive(Clone, Copy)]
enum SortKey {
    LastSeen,
    FirstSeen,
    Started,
    Finished,
    Duration,
    Entity,
    Status,
    Progress,
    Source,
    Queue,
}

impl SortKey {
    fn parse(v: &str) -> Option<Self> {
        Some(match v {
            "last_seen" => SortKey::LastSeen,
            "first_seen" => SortKey::FirstSeen,
            "started_at" => SortKey::Started,
            "finished_at" => SortKey::Finished,
            "duration" => SortKey::Duration,
            "entity" | "id" => SortKey::Entity,
            "status" => SortKey::Status,
            "progress" => SortKey::Progress,
            "source" => SortKey::Source,
            "queue" | "parent" => SortKey::Queue,
            _ => return None,
        })
    }

    fn compare(self, a: &EntityState, b: &EntityState, now: Millis) -> Ordering {
        match self {
            SortKey::LastSeen => a.last_seen.cmp(&b.last_seen),
            SortKey::FirstSeen => a.first_seen.cmp(&b.first_seen),
            SortKey::Started => a.started_at.cmp(&b.started_at),
            SortKey::Finished => a.finished_at.cmp(&b.finished_at),
            SortKey::Duration => a.duration_ms(now).cmp(&b.duration_ms(now)),
            SortKey::Entity => a.entity.cmp(&b.entity),
            SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
            SortKey::Progress => a
                .progress
                .unwrap_or(-1.0)
                .total_cmp(&b.progress.unwrap_or(-1.0)),
            SortKey::Source => a.source.cmp(&b.source),
            SortKey::Queue => a.parent.cmp(&b.parent),
        }
    }
}

/// What `/api/jobs` filters on.
struct JobFilter {
    source: Option<String>,
    statuses: Vec<Status>,
    queue: Option<String>,
    text: Option<String>,
}

impl JobFilter {
    fn from_params(p: &Params) -> Self {
        JobFilter {
            source: p.text("source").map(str::to_string),
            // `status=failed,stalled`: the UI's "problems" view in one request.
            statuses: p
                .text("status")
                .map(|v| {
                    v.split(',')
                        .map(|s| Status::from_stored(s.trim()))
                        .collect()
                })
                .unwrap_or_default(),
            queue: p.text("queue").map(str::to_string),
            text: p.text("q").map(str::to_lowercase),
        }
    }

    fn matches(&self, s: &EntityState) -> bool {
        let contains = |field: &Option<String>, t: &str| {
            field.as_ref().is_some_and(|f| f.to_lowercase().contains(t))
        };
        s.kind == EntityKind::Job
            && self.source.as_ref().is_none_or(|x| *x == s.source)
            && (self.statuses.is_empty() || self.statuses.contains(&s.status))
            && self
                .queue
                .as_ref()
                .is_none_or(|q| s.parent.as_ref() == Some(q))
            && self.text.as_deref().is_none_or(|t| {
                s.entity.to_lowercase().contains(t)
                    || contains(&s.message, t)
                    || contains(&s.error, t)
                    || contains(&s.stage, t)
            })
    }
}

pub(crate) async fn list(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Page>, ApiError> {
    let p = Params::parse(q.as_deref());
    let filter = JobFilter::from_params(&p);
    let key = match p.text("sort") {
        None => SortKey::LastSeen,
        Some(v) => SortKey::parse(v).ok_or_else(|| {
            ApiError::bad_param(
                "sort",
                "expected last_seen, first_seen, started_at, finished_at, duration, entity, status, progress, source or queue",
            )
        })?,
    };
    let descending = match p.text("order") {
        None => matches!(
            key,
            SortKey::LastSeen
                | SortKey::FirstSeen
                | SortKey::Started
                | SortKey::Finished
                | SortKey::Duration
        ),
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::bad_param("order", "expected asc or desc")),
    };
    let offset = p.u64("offset")?.unwrap_or(0) as usize;
    let limit = p.limit("limit", DEFAULT_PAGE, MAX_PAGE)?;
    let last_seq = s.hub.health().last_seq;
    let now = now_millis();
    let board = s.hub.board();
    let board = board.read().unwrap_or_else(|e| e.into_inner());
    let mut matching: Vec<&EntityState> = board.iter().filter(|e| filter.matches(e)).collect();
    matching.sort_by(|a, b| {
        let o = key.compare(a, b, now);
        let o = if descending { o.reverse() } else { o };
        // A stable order for equal keys, so pages do not overlap or skip.
        o.then_with(|| a.entity.cmp(&b.entity))
    });
    let total = matching.len();
    let items = matching
        .into_iter()
        // Iterator paging, not a skipped test: the page starts at `offset`.
        .skip(offset)
        .take(limit)
        .map(|e| Row {
            duration_ms: e.duration_ms(now),
            state: e.clone(),
        })
        .collect();
    Ok(Json(Page {
        items,
        total,
        offset,
        limit,
        last_seq,
    }))
}

#[derive(Serialize)]
pub(crate) struct Timeline {
    pub job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Row>,
    pub events: Vec<Event>,
    /// True when `limit` cut the timeline short.
    pub truncated: bool,
}

pub(crate) async fn timeline(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Timeline>, ApiError> {
    let p = Params::parse(q.as_deref());
    let limit = p.limit("limit", 1_000, MAX_TIMELINE)?;
    let entity = id.clone();
    let events = s
        .read(move |r| r.timeline(Some(EntityKind::Job), &entity, limit + 1))
        .await?;
    let state = {
        let board = s.hub.board();
        let board = board.read().unwrap_or_else(|e| e.into_inner());
        board.get(EntityKind::Job, &id).cloned()
    };
    if events.is_empty() && state.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            format!("no job {id:?} in the history"),
        ));
    }
    let truncated = events.len() > limit;
    let mut events = events;
    events.truncate(limit);
    let now = now_millis();
    Ok(Json(Timeline {
        job: id,
        state: state.map(|st| Row {
            duration_ms: st.duration_ms(now),
            state: st,
        }),
        events,
        truncated,
    }))
}
