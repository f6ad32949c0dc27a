//! One Telltale per user session: a second `telltale` focuses the first window and
//! exits, instead of failing on the relay's port and the history's lock. Its flags are
//! not applied to the running one (restart it to change sources).

use tauri::plugin::TauriPlugin;
use tauri::Runtime;

/// Register before any other plugin: the second instance must exit before it starts
/// anything.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_single_instance::init(|app, _argv, _cwd| {
        tracing::info!("another launch: showing the window");
        crate::window::show(app);
    })
}
