//! The tray icon: its colour follows the board (all clear, activity, failures not yet
//! looked at), its tooltip gives the counts, and its menu offers the window, the last
//! five failures, pausing notifications, and quit.
//!
//! Linux tray hosts (StatusNotifierItem/AppIndicator) report no clicks on the icon
//! itself, only on menu items, so everything is in the menu.

use std::sync::{Arc, Mutex, RwLock};

use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use telltale_core::board::Board;
use telltale_core::model::now_millis;
use telltale_core::rules::{BoardCounts, EntityRef, Quiet, TrayState};

use crate::alerts::Alerts;

const TRAY: &str = "main";
const SHOW: &str = "show";
const FAILURE_PREFIX: &str = "failure:";
const PAUSE_SNOOZE: &str = "pause-snooze";
const PAUSE: &str = "pause";
const RESUME: &str = "resume";
const QUIT: &str = "quit";

/// What the tray shows now, so refreshes touch the tray host only on change.
pub struct TrayView {
    board: Arc<RwLock<Board>>,
    shown: Mutex<Option<(TrayState, String)>>,
    /// The jobs behind the menu's recent-failure items, by position.
    menu_jobs: Mutex<Vec<EntityRef>>,
    /// The pause state the menu was built for: a snooze that ends by itself must turn
    /// "Resume" back into "Pause".
    menu_quiet: Mutex<Quiet>,
}

impl TrayView {
    pub fn new(board: Arc<RwLock<Board>>) -> Self {
        TrayView {
            board,
            shown: Mutex::new(None),
            menu_jobs: Mutex::new(Vec::new()),
            menu_quiet: Mutex::new(Quiet::Off),
        }
    }
}

pub fn create<R: Runtime, M: Manager<R>>(manager: &M) -> tauri::Result<TrayIcon<R>> {
    let app = manager.app_handle();
    let menu = build_menu(app)?;
    TrayIconBuilder::with_id(TRAY)
        .icon(icon(TrayState::AllClear))
        .tooltip("Telltale")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu)
        .on_tray_icon_event(|tray, event| {
            // Where the host reports clicks (Windows, macOS, some Linux hosts), a left
            // click shows the window; the menu is on the right button.
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::window::show(tray.app_handle());
            }
        })
        .build(app)
}

/// Recomputes icon and tooltip from the board; touches the tray only if they changed.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let view = app.state::<TrayView>();
    let counts = match view.board.read() {
        Ok(b) => BoardCounts::of(&b),
        Err(e) => BoardCounts::of(&e.into_inner()),
    };
    let alerts = app.state::<Arc<Alerts>>();
    let (state, mut tooltip) = alerts.tray(&counts);
    let quiet = alerts.quiet();
    if quiet != Quiet::Off {
        tooltip.push_str(" · notifications paused");
    }
    if quiet != *view.menu_quiet.lock().unwrap_or_else(|e| e.into_inner()) {
        rebuild_menu(app);
        return;
    }
    let mut shown = view.shown.lock().unwrap_or_else(|e| e.into_inner());
    if shown.as_ref() == Some(&(state, tooltip.clone())) {
        return;
    }
    if let Some(tray) = app.tray_by_id(TRAY) {
        if shown.as_ref().map(|s| s.0) != Some(state) {
            let _ = tray.set_icon(Some(icon(state)));
        }
        let _ = tray.set_tooltip(Some(format!("Telltale: {tooltip}")));
    }
    *shown = Some((state, tooltip));
}

/// Rebuilds the menu (recent failures or the pause state changed).
pub fn rebuild_menu<R: Runtime>(app: &AppHandle<R>) {
    match (build_menu(app), app.tray_by_id(TRAY)) {
        (Ok(menu), Some(tray)) => {
            let _ = tray.set_menu(Some(menu));
        }
        (Err(e), _) => tracing::warn!(error = %e, "cannot build the tray menu"),
        _ => {}
    }
    refresh(app);
}

fn icon(state: TrayState) -> Image<'static> {
    match state {
        TrayState::AllClear => tauri::include_image!("icons/tray-ok.png"),
        TrayState::Activity => tauri::include_image!("icons/tray-activity.png"),
        TrayState::Failing => tauri::include_image!("icons/tray-failing.png"),
    }
}

fn build_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let alerts = app.state::<Arc<Alerts>>();
    let view = app.state::<TrayView>();
    let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
    items.push(Box::new(MenuItem::with_id(
        app,
        SHOW,
        "Show Telltale",
        true,
        None::<&str>,
    )?));
    items.push(Box::new(PredefinedMenuItem::separator(app)?));

    let recent = alerts.recent();
    if recent.is_empty() {
        items.push(Box::new(MenuItem::new(
            app,
            "No recent failures",
            false,
            None::<&str>,
        )?));
    } else {
        items.push(Box::new(MenuItem::new(
            app,
            "Recent failures",
            false,
            None::<&str>,
        )?));
        for (i, f) in recent.iter().enumerate() {
            let label = match &f.queue {
                Some(q) => format!("{} · {q}", f.job.entity),
                None => format!("{} · {}", f.job.entity, f.job.source),
            };
            let id = format!("{FAILURE_PREFIX}{i}");
            items.push(Box::new(MenuItem::with_id(
                app,
                id,
                label,
                true,
                None::<&str>,
            )?));
        }
    }
    *view.menu_jobs.lock().unwrap_or_else(|e| e.into_inner()) =
        recent.into_iter().map(|f| f.job).collect();
    items.push(Box::new(PredefinedMenuItem::separator(app)?));

    let quiet = alerts.quiet();
    *view.menu_quiet.lock().unwrap_or_else(|e| e.into_inner()) = quiet;
    match quiet {
        Quiet::Off => {
            let snooze = format!(
                "Pause notifications for {}",
                human(alerts.snooze_duration())
            );
            items.push(Box::new(MenuItem::with_id(
                app,
                PAUSE_SNOOZE,
                snooze,
                true,
                None::<&str>,
            )?));
            items.push(Box::new(MenuItem::with_id(
                app,
                PAUSE,
                "Pause notifications until resumed",
                true,
                None::<&str>,
            )?));
        }
        quiet => {
            let missed = alerts.missed_while_quiet();
            let mut label = match quiet {
                Quiet::Until(t) => {
                    let left = (t - now_millis()).max(0) as u64;
                    // Rounded up: "0 min left" while still paused would read as a bug.
                    let minutes = left.div_ceil(60_000).max(1);
                    format!("Resume notifications (paused, {minutes} min left)")
                }
                _ => "Resume notifications (paused)".to_string(),
            };
            if missed > 0 {
                label.push_str(&format!(", {missed} silenced"));
            }
            items.push(Box::new(MenuItem::with_id(
                app,
                RESUME,
                label,
                true,
                None::<&str>,
            )?));
        }
    }
    items.push(Box::new(PredefinedMenuItem::separator(app)?));
    items.push(Box::new(MenuItem::with_id(
        app,
        QUIT,
        "Quit Telltale",
        true,
        None::<&str>,
    )?));
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|b| b.as_ref()).collect();
    Menu::with_items(app, &refs)
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    let alerts = app.state::<Arc<Alerts>>();
    match id {
        SHOW => crate::window::show(app),
        PAUSE_SNOOZE => {
            alerts.pause_for_snooze();
            rebuild_menu(app);
        }
        PAUSE => {
            alerts.pause_until_resumed();
            rebuild_menu(app);
        }
        RESUME => {
            alerts.resume();
            rebuild_menu(app);
        }
        QUIT => {
            tracing::info!("quit from the tray");
            // Ends the event loop; the engine is shut down after it (shell.rs).
            app.exit(0);
        }
        other => {
            let Some(i) = other
                .strip_prefix(FAILURE_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return;
            };
            let job = app
                .state::<TrayView>()
                .menu_jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(i)
                .cloned();
            if let Some(job) = job {
                crate::open_job::open(app, &job);
            }
        }
    }
}

/// "1 h", "30 min", "90 s": how long a snooze lasts, for the menu.
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}
