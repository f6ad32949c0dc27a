//! `POST /api/sources`, `PUT /api/sources/{name}`, `DELETE /api/sources/{name}`: the
//! Sources view's edits, saved to the config file and applied to the running engine.
//!
//! Each edit, under one lock: read the file, apply the input (`source_input`), load
//! the edited text with the start-up loader (so the same rules hold and nothing the
//! next start would refuse is written), put typed secrets in the OS keychain, save the
//! file, then stop / start the source. A failure before the save changes nothing.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::config::edit::{ConfigFile, EditError};
use crate::config::keychain::{self, KeychainError};
use crate::config::{Config, ConfigError, Secret, SourceConfig, KEYCHAIN_REF_PREFIX};
use crate::engine::Engine;

use super::body;
use super::error::{codes, ApiError};
use super::source_input::{KeychainWrite, SourceInput};
use super::state::AppState;

/// What a successful edit answers.
#[derive(Serialize)]
pub(crate) struct Saved {
    pub name: String,
    /// The source runs (false when disabled, or when it could not start: see `reason`).
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Loader warnings about the saved file (a literal secret in a URL, ...).
    pub warnings: Vec<String>,
}

pub(crate) async fn add(
    State(s): State<AppState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Saved>), ApiError> {
    let input: SourceInput = body::json(&bytes, "SourceInput")?;
    let engine = s.engine()?.clone();
    let path = s.config_file()?.to_path_buf();
    let _edit = s.edits.lock().await;
    let mut file = open(&path)?;
    if file.source(&input.name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::SOURCE_EXISTS,
            format!(
                "a source named \"{}\" exists already; choose another name or edit it",
                input.name
            ),
        ));
    }
    let mut pending = Vec::new();
    input.write_into(file.push_source().map_err(edit_error)?, &mut pending)?;
    let (config, warnings) = check(&file)?;
    let source = configured(&config, &input.name)?;
    store_secrets(pending).await?;
    save(file).await?;
    tracing::info!(source = %source.name, "source added");
    let saved = apply(&engine, None, &source, warnings).await;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub(crate) async fn update(
    State(s): State<AppState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Json<Saved>, ApiError> {
    let input: SourceInput = body::json(&bytes, "SourceInput")?;
    let engine = s.engine()?.clone();
    let path = s.config_file()?.to_path_buf();
    let _edit = s.edits.lock().await;
    let mut file = open(&path)?;
    let renamed = input.name != name;
    if renamed && file.source(&input.name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::SOURCE_EXISTS,
            format!(
                "cannot rename to \"{}\": a source of that name exists",
                input.name
            ),
        ));
    }
    let mut pending = Vec::new();
    match file.source_mut(&name) {
        Some(t) => input.write_into(t, &mut pending)?,
        None => return Err(not_configured(&name)),
    }
    if renamed {
        file.retarget_notification_source(&name, Some(&input.name));
    }
    let (config, warnings) = check(&file)?;
    let source = configured(&config, &input.name)?;
    store_secrets(pending).await?;
    save(file).await?;
    tracing::info!(source = %source.name, previous = %name, enabled = source.enabled, "source changed");
    Ok(Json(apply(&engine, Some(&name), &source, warnings).await))
}

pub(crate) async fn remove(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let engine = s.engine()?.clone();
    let path = s.config_file()?.to_path_buf();
    let _edit = s.edits.lock().await;
    let mut file = open(&path)?;
    let before = check(&file).ok().map(|(c, _)| c);
    if !file.remove_source(&name).map_err(edit_error)? {
        return Err(not_configured(&name));
    }
    file.retarget_notification_source(&name, None);
    let (config, _) = check(&file)?;
    save(file).await?;
    engine.stop_source(&name).await;
    engine.source_states().remove(&name);
    tracing::info!(source = %name, "source removed");
    // The keychain entries only this source used go with it.
    if let Some(removed) = before.as_ref().and_then(|c| c.source(&name)) {
        let still_used = keychain_entries(config.sources.iter());
        let orphans: Vec<String> = keychain_entries(std::iter::once(removed))
            .into_iter()
            .filter(|e| !still_used.contains(e))
            .collect();
        tokio::task::spawn_blocking(move || {
            for entry in orphans {
                if let Err(e) = keychain::delete(&entry) {
                    tracing::warn!(entry, error = %e, "keychain entry of a removed source not deleted");
                }
            }
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Stops what ran under the old name, then starts the source as now configured.
async fn apply(
    engine: &Engine,
    previous: Option<&str>,
    source: &SourceConfig,
    warnings: Vec<crate::config::Problem>,
) -> Saved {
    if let Some(old) = previous.filter(|o| *o != source.name) {
        engine.stop_source(old).await;
        engine.source_states().remove(old);
    }
    engine.stop_source(&source.name).await;
    let started = engine.add_configured_source(source);
    let reason = started.as_ref().err().map(|e| e.to_string());
    if let Some(r) = &reason {
        tracing::warn!(source = %source.name, reason = %r, "saved source did not start");
    }
    Saved {
        name: source.name.clone(),
        running: source.enabled && started.is_ok(),
        reason,
        warnings: warnings.iter().map(|w| w.to_string()).collect(),
    }
}

/// The keychain entries (`${keychain:NAME}`) that these sources refer to.
fn keychain_entries<'a>(sources: impl Iterator<Item = &'a SourceConfig>) -> HashSet<String> {
    let mut out = HashSet::new();
    for s in sources {
        let secrets: Vec<&Secret> = s
            .headers
            .values()
            .chain(s.bearer.iter())
            .chain(s.token.iter())
            .collect();
        for secret in secrets {
            for v in secret.variables() {
                if let Some(entry) = v.strip_prefix(KEYCHAIN_REF_PREFIX) {
                    out.insert(entry.to_string());
                }
            }
        }
    }
    out
}

fn open(path: &std::path::Path) -> Result<ConfigFile, ApiError> {
    ConfigFile::open(path).map_err(edit_error)
}

/// Loads the edited document like a start would. Problems name keys and lines, never
/// values, so they can be shown as they are.
pub(crate) fn check(file: &ConfigFile) -> Result<(Config, Vec<crate::config::Problem>), ApiError> {
    file.check().map_err(|e| match e {
        ConfigError::Invalid { problems, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_CONFIG,
            problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::INVALID_CONFIG,
            other.to_string(),
        ),
    })
}

fn configured(config: &Config, name: &str) -> Result<SourceConfig, ApiError> {
    config
        .source(name)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("source \"{name}\" missing after the edit")))
}

fn not_configured(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::SOURCE_NOT_FOUND,
        format!("no source named \"{name}\" in the config file (sources given with --source cannot be edited here)"),
    )
}

pub(crate) fn edit_error(e: EditError) -> ApiError {
    let status = match e {
        EditError::Write { .. } | EditError::Read { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        EditError::Syntax { .. } | EditError::Shape { .. } => StatusCode::CONFLICT,
    };
    ApiError::new(status, codes::CONFIG_FILE, e.to_string())
}

pub(crate) async fn save(file: ConfigFile) -> Result<(), ApiError> {
    tokio::task::spawn_blocking(move || file.save())
        .await?
        .map_err(edit_error)
}

/// Puts typed secrets in the OS keychain (each call runs on its own thread with a
/// deadline; see `config::keychain`).
async fn store_secrets(pending: Vec<KeychainWrite>) -> Result<(), ApiError> {
    if pending.is_empty() {
        return Ok(());
    }
    tokio::task::spawn_blocking(move || {
        for w in &pending {
            keychain::store(&w.name, &w.value)?;
            tracing::info!(entry = %w.name, "secret stored in the OS keychain");
        }
        Ok::<(), KeychainError>(())
    })
    .await?
    .map_err(keychain_error)
}

pub(crate) fn keychain_error(e: KeychainError) -> ApiError {
    match e {
        KeychainError::Unavailable { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::KEYCHAIN_UNAVAILABLE,
            e.to_string(),
        ),
        KeychainError::BadName { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_BODY, e.to_string())
        }
        KeychainError::Refused { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::KEYCHAIN,
            e.to_string(),
        ),
    }
}
