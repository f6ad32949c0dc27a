//! The task that feeds the alert state from the hub's live stream (notifications out,
//! tray refreshed) and from the rules the UI edits through the relay. Only events stored after start reach it (`subscribe_live`), so
//! history is never news.

use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Runtime};
use telltale_core::hub::LiveBatch;
use telltale_core::model::now_millis;
use telltale_core::relay::LiveRules;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::sync::watch;

use crate::alerts::Alerts;

/// How often the tray icon and tooltip follow the board when nothing else happens
/// (a job's running → idle change comes with an event, but counts are cheap to redo).
const TRAY_REFRESH: Duration = Duration::from_secs(1);

pub async fn run<R: Runtime>(
    app: AppHandle<R>,
    alerts: Arc<Alerts>,
    mut live: Receiver<LiveBatch>,
    mut rules: watch::Receiver<LiveRules>,
) {
    alerts.apply_rules(&rules.borrow_and_update());
    let mut rules_open = true;
    let mut refresh = tokio::time::interval(TRAY_REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Sleep until the coalescing window ends, if one is open.
        let window_end = alerts.next_deadline().map(|t| {
            let wait = u64::try_from(t.saturating_sub(now_millis())).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        let window_ends = async {
            match window_end {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            batch = live.recv() => match batch {
                Ok(batch) => {
                    let seen = alerts.observe(&batch);
                    for n in &seen.notifications {
                        crate::notifications::deliver(&app, n);
                    }
                    on_main(&app, move |app| {
                        if seen.recent_changed {
                            crate::tray::rebuild_menu(app);
                        } else {
                            crate::tray::refresh(app);
                        }
                    });
                }
                Err(RecvError::Lagged(n)) => {
                    // Only in a burst far beyond what a person reads: those events are
                    // stored and on the board, just not announced one by one.
                    tracing::warn!(batches = n, "notification rules fell behind; skipped batches are not announced");
                }
                Err(RecvError::Closed) => break,
            },
            _ = window_ends => {
                for n in alerts.tick() {
                    crate::notifications::deliver(&app, &n);
                }
            }
            changed = rules.changed(), if rules_open => match changed {
                Ok(()) => {
                    alerts.apply_rules(&rules.borrow_and_update());
                    on_main(&app, |app| crate::tray::rebuild_menu(app));
                }
                // The relay stopped: the rules stay as they were.
                Err(_) => rules_open = false,
            },
            _ = refresh.tick() => on_main(&app, |app| crate::tray::refresh(app)),
        }
    }
    tracing::debug!("live alerts stopped: the hub closed");
}

/// Tray and menu calls go to the main (GTK) thread.
fn on_main<R: Runtime>(app: &AppHandle<R>, f: impl FnOnce(&AppHandle<R>) + Send + 'static) {
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || f(&handle));
}
