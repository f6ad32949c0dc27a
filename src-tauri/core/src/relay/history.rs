//! `/api/history`: stored events by full text, filters and time window, newest first.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;

use crate::model::Event;

use super::error::ApiError;
use super::params::Params;
use super::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

#[derive(Serialize)]
pub(crate) struct History {
    pub items: Vec<Event>,
    pub limit: usize,
    /// More events matched than `limit`: narrow the window or raise the limit.
    pub truncated: bool,
}

pub(crate) async fn search(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Json<History>, ApiError> {
    let p = Params::parse(q.as_deref());
    let filter = p.event_filter()?;
    let limit = p.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let text = p.text("q").map(str::to_string);
    // One more than asked tells whether there is more.
    let mut items = s
        .read(move |r| match &text {
            Some(t) => r.search(t, &filter, limit + 1),
            None => r.query(&filter, limit + 1),
        })
        .await?;
    let truncated = items.len() > limit;
    items.truncate(limit);
    Ok(Json(History {
        items,
        limit,
        truncated,
    }))
}
