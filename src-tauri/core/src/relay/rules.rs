//! `GET /api/rules` and `PUT /api/rules`: the notification rules (`[notifications]`)
//! and the snooze, as the Rules view edits them.
//!
//! A PUT is saved to the config file (comments kept, checked by the start-up loader)
//! and published on a `watch` channel ([`super::Relay::rules`]) that whatever
//! delivers notifications follows, so a change applies without a restart. The snooze
//! is a moment in time, not a setting: it lives only in that channel, not in the file.

use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::config::edit::{set_bool, set_str, set_str_list, ConfigFile};
use crate::config::{Config, NotificationsConfig};
use crate::model::{Millis, Status};

use super::body;
use super::error::{codes, ApiError};
use super::source_edit::{check, edit_error, save};
use super::state::AppState;

/// The rules in force: `[notifications]` plus the snooze.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveRules {
    pub notifications: NotificationsConfig,
    /// Silent until this instant (epoch ms); `None` or past: not snoozed.
    pub snoozed_until: Option<Millis>,
}

impl LiveRules {
    /// The file's `[notifications]` with the environment layer, as a start reads it;
    /// the defaults when there is no file or it does not load.
    pub(crate) fn from_file(path: Option<&Path>) -> LiveRules {
        let notifications = match path.filter(|p| p.exists()) {
            Some(p) => match Config::load(Some(p)) {
                Ok(loaded) => loaded.config.notifications,
                Err(e) => {
                    tracing::warn!(error = %e, "notification rules not read from the config file; using the defaults");
                    NotificationsConfig::default()
                }
            },
            None => NotificationsConfig::default(),
        };
        LiveRules {
            notifications,
            snoozed_until: None,
        }
    }
}

/// The JSON shape (`Rules` in ui/src/api/types.ts).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesBody {
    pub enabled: bool,
    pub statuses: Vec<String>,
    pub sources: Vec<String>,
    pub queues: Vec<String>,
    pub coalesce_s: u64,
    pub snooze_s: u64,
    #[serde(default)]
    pub snoozed_until: Option<Millis>,
}

impl From<&LiveRules> for RulesBody {
    fn from(r: &LiveRules) -> Self {
        let n = &r.notifications;
        RulesBody {
            enabled: n.enabled,
            statuses: n.statuses.iter().map(|s| s.as_str().to_string()).collect(),
            sources: n.sources.clone(),
            queues: n.queues.clone(),
            coalesce_s: n.coalesce.as_secs(),
            snooze_s: n.snooze.as_secs(),
            snoozed_until: r.snoozed_until,
        }
    }
}

pub(crate) async fn get_rules(State(s): State<AppState>) -> Json<RulesBody> {
    Json(RulesBody::from(&*s.rules.borrow()))
}

pub(crate) async fn put_rules(
    State(s): State<AppState>,
    bytes: Bytes,
) -> Result<Json<RulesBody>, ApiError> {
    let input: RulesBody = body::json(&bytes, "Rules")?;
    let path = s.config_file()?.to_path_buf();
    let _edit = s.edits.lock().await;
    let mut file = ConfigFile::open(&path).map_err(edit_error)?;
    {
        let t = file.notifications_mut().map_err(edit_error)?;
        set_bool(t, "enabled", input.enabled);
        // Lower-case as the loader compares them; unknown names are its to refuse.
        let statuses: Vec<String> = input
            .statuses
            .iter()
            .map(|x| x.to_ascii_lowercase())
            .collect();
        set_str_list(t, "statuses", &statuses);
        set_str_list(t, "sources", &input.sources);
        set_str_list(t, "queues", &input.queues);
        let coalesce = if input.coalesce_s == 0 {
            "off".to_string()
        } else {
            humantime::format_duration(Duration::from_secs(input.coalesce_s)).to_string()
        };
        set_str(t, "coalesce", &coalesce);
        if input.snooze_s == 0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::INVALID_CONFIG,
                "snooze_s: must be longer than zero",
            ));
        }
        set_str(
            t,
            "snooze",
            &humantime::format_duration(Duration::from_secs(input.snooze_s)).to_string(),
        );
    }
    let (config, _) = check(&file)?;
    save(file).await?;
    let mut notifications = config.notifications;
    // The environment still wins over the file, as at start.
    if let Some(on) = std::env::var(crate::config::TELLTALE_NOTIFICATIONS)
        .ok()
        .and_then(|v| env_bool(&v))
    {
        notifications.enabled = on;
    }
    let live = LiveRules {
        notifications,
        snoozed_until: input.snoozed_until,
    };
    tracing::info!(
        enabled = live.notifications.enabled,
        statuses = ?live.notifications.statuses.iter().map(Status::as_str).collect::<Vec<_>>(),
        "notification rules changed"
    );
    s.rules.send_replace(live.clone());
    Ok(Json(RulesBody::from(&live)))
}

fn env_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}
