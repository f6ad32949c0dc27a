//! `telltale` with no subcommand: the engine and relay in-process, then the window,
//! the tray and the notification rules around them, then a clean shutdown when the
//! operator quits from the tray (or the session sends SIGTERM).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tauri::{Manager, RunEvent};
use telltale_core::cli::{start_headless_engine, Running};
use telltale_core::model::{now_millis, Millis};
use telltale_core::rules::{NotifyPolicy, Start};

use crate::alerts::Alerts;
use crate::args::DesktopCli;
use crate::endpoint::RelayEndpoint;
use crate::tray::TrayView;

/// Longest wait for the engine to commit and stop after quit; past it the history is
/// still consistent (SQLite WAL) and only events in flight are lost.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(15);

pub fn run(cli: DesktopCli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("telltale")
        .build()
        .context("cannot start the async runtime")?;
    // One runtime for the engine, the relay and Tauri's own tasks.
    tauri::async_runtime::set(rt.handle().clone());

    // Built before the engine starts: the single-instance plugin ends a second launch
    // here, before it could fight the first over the relay's port and the history.
    let app = tauri::Builder::default()
        .plugin(crate::single_instance::plugin())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![crate::endpoint::relay_endpoint])
        .build(tauri::generate_context!())
        .context("cannot start the window")?;

    let running = Arc::new(rt.block_on(start_headless_engine(cli.config.as_deref(), &cli.open))?);
    let endpoint = RelayEndpoint {
        relay: running.relay.base_url(),
        token: running.token.expose().to_string(),
    };
    eprintln!(
        "telltale: window open; relay on {} (also for browsers: `telltale serve` prints the URL with its token); history in {}",
        endpoint.relay,
        running.db.display()
    );

    let hub = running.engine.hub();
    // Subscribe first, then read the horizon: whatever the stream brings at or below
    // it was stored before we listened, i.e. history.
    let live = hub.subscribe_live();
    let start = Start {
        after_seq: hub.health().last_seq,
        at: now_millis(),
    };
    let board = hub.board();
    let (snooze_tx, snooze_rx) = tokio::sync::mpsc::unbounded_channel();
    let alerts = {
        let b = board.read().unwrap_or_else(|e| e.into_inner());
        let n = &running.config.notifications;
        Arc::new(Alerts::new(
            NotifyPolicy::from(n),
            n.snooze,
            start,
            &b,
            snooze_tx,
        ))
    };
    let bridge = rt.spawn(snoozes_to_relay(running.clone(), snooze_rx));
    app.manage(alerts.clone());
    app.manage(endpoint.clone());
    app.manage(TrayView::new(board));

    crate::notifications::listen_for_clicks(app.handle());
    crate::window::create(&app, &endpoint, !cli.hidden).context("cannot open the window")?;
    crate::tray::create(&app).context("cannot create the tray icon")?;
    rt.spawn(crate::live::run(
        app.handle().clone(),
        alerts,
        live,
        running.relay.rules(),
    ));
    rt.spawn(quit_on_signal(app.handle().clone()));

    let code = app.run_return(|_app, event| {
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            // The last window went away (it only hides, but a window manager may
            // destroy it): keep monitoring from the tray. Quit is explicit.
            api.prevent_exit();
        }
    });

    eprintln!("telltale: stopping; committing pending events");
    // The bridge holds the only other reference to the running engine.
    bridge.abort();
    let _ = rt.block_on(bridge);
    let Ok(running) = Arc::try_unwrap(running) else {
        anyhow::bail!("the engine is still in use at exit");
    };
    // The timer must be created inside the runtime, hence the async block.
    let stopped =
        rt.block_on(async { tokio::time::timeout(SHUTDOWN_DEADLINE, running.shutdown()).await });
    if stopped.is_err() {
        eprintln!("telltale: the engine did not stop within {SHUTDOWN_DEADLINE:?}; exiting anyway");
    } else {
        eprintln!("telltale: stopped");
    }
    // Whatever is still running (a relay stream, a notification being sent) must not
    // hold the process open.
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Tray snoozes go to the relay, which holds the snooze the UI's Rules view shows.
async fn snoozes_to_relay(
    running: Arc<Running>,
    mut snoozes: tokio::sync::mpsc::UnboundedReceiver<Option<Millis>>,
) {
    while let Some(until) = snoozes.recv().await {
        running.relay.set_snoozed_until(until);
    }
}

/// SIGTERM (session logout, `kill`) and Ctrl-C quit like the tray's Quit: through the
/// event loop, so the engine shutdown above runs.
async fn quit_on_signal(app: tauri::AppHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received; quitting");
    app.exit(0);
}
