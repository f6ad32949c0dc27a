//! Delivering the rules' notifications through the notification plugin, and opening
//! the job when one is clicked.

use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;
use telltale_core::model::EntityKind;
use telltale_core::rules::{EntityRef, Notification};

/// Keys in the notification's `extra`, read back when it is clicked.
const EXTRA_KIND: &str = "telltale.kind";
const EXTRA_SOURCE: &str = "telltale.source";
const EXTRA_ENTITY: &str = "telltale.entity";

/// Registers the click handler. Must run before the first notification: the plugin
/// asks the notification server for clicks only while a handler exists.
pub fn listen_for_clicks<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    let registered = app.notification().on_action(move |action| {
        if action.action_id() != "tap" {
            return;
        }
        let Some(job) = action.notification().and_then(|n| {
            let text = |k: &str| {
                n.extra()
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            Some(EntityRef {
                kind: EntityKind::parse(&text(EXTRA_KIND)?)?,
                source: text(EXTRA_SOURCE)?,
                entity: text(EXTRA_ENTITY)?,
            })
        }) else {
            // A click on a summary without a job still brings the window up.
            crate::window::show(&handle);
            return;
        };
        // The handler runs on the plugin's thread; windows are driven from the main one.
        let app = handle.clone();
        let _ = handle.run_on_main_thread(move || crate::open_job::open(&app, &job));
    });
    if let Err(e) = registered {
        tracing::warn!(error = %e, "notification clicks will not open jobs");
    }
}

pub fn deliver<R: Runtime>(app: &AppHandle<R>, n: &Notification) {
    let mut builder = app.notification().builder().title(&n.title).body(&n.body);
    if let Some(job) = &n.open {
        builder = builder
            .extra(EXTRA_KIND, job.kind.as_str())
            .extra(EXTRA_SOURCE, &job.source)
            .extra(EXTRA_ENTITY, &job.entity);
    }
    // On Linux `show` returns Ok even when no notification server answered; a failure
    // here is a malformed notification, worth a log line but never a crash.
    match builder.show() {
        Ok(()) => tracing::debug!(count = n.count, "notification sent"),
        Err(e) => tracing::warn!(error = %e, "cannot show a notification"),
    }
}
