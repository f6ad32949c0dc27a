//! The one window: the bundled UI, never anything else; closing it hides it to the
//! tray (the engine keeps watching); showing or focusing it acknowledges failures.

use std::sync::Arc;

use tauri::{
    AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};

use crate::alerts::Alerts;
use crate::endpoint::RelayEndpoint;

pub const MAIN: &str = "main";

pub fn create<R: Runtime, M: Manager<R>>(
    manager: &M,
    endpoint: &RelayEndpoint,
    visible: bool,
) -> tauri::Result<WebviewWindow<R>> {
    let window = WebviewWindowBuilder::new(manager, MAIN, WebviewUrl::App("index.html".into()))
        .title("Telltale")
        .inner_size(1280.0, 820.0)
        .min_inner_size(720.0, 480.0)
        .visible(visible)
        // Before any of the page's scripts: the relay's address and token.
        .initialization_script(endpoint.init_script())
        // The token is in this page's memory: the window must never show anything but
        // the bundled UI. Links elsewhere are refused, not opened in here.
        .on_navigation(is_bundled_ui)
        .build()?;
    #[cfg(target_os = "linux")]
    window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        // Memory (issue 8): with accelerated compositing WebKitGTK's web process keeps
        // GPU-style layer buffers (and, without a GPU, llvmpipe's) for a page that is a
        // table and a few sparklines: ~83 MB PSS of the app's 333 MB idle, measured
        // with scripts/measure-desktop-memory.sh. Painting on the CPU is plenty for
        // this page. The cache model and page cache were measured too and made no
        // difference (one page, no navigation), so they stay at their defaults.
        // In this mode WebKitWebDriver's screenshot waits for the page's next repaint
        // (nothing else changes: the web process lives on and every other command
        // answers), so the desktop test reads the window from the X server instead.
        if let Some(settings) = WebViewExt::settings(&webview.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    })?;
    let handle = window.app_handle().clone();
    window.on_window_event(move |event| match event {
        WindowEvent::CloseRequested { api, .. } => {
            // Close means "out of my way", not "stop monitoring": quit is in the tray.
            api.prevent_close();
            if let Some(w) = handle.get_webview_window(MAIN) {
                let _ = w.hide();
            }
        }
        WindowEvent::Focused(true) => {
            handle.state::<Arc<Alerts>>().acknowledge();
            crate::tray::refresh(&handle);
        }
        _ => {}
    });
    Ok(window)
}

/// Brings the window up and to the front (tray "Show", a second launch, a click on a
/// notification).
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        app.state::<Arc<Alerts>>().acknowledge();
        crate::tray::refresh(app);
    }
}

/// `tauri://localhost/…` (Linux, macOS) or `http(s)://tauri.localhost/…` (Windows):
/// where Tauri serves the embedded UI.
fn is_bundled_ui(url: &tauri::Url) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_bundled_ui;

    #[test]
    fn only_the_bundled_ui_may_load() {
        let ok = |s: &str| is_bundled_ui(&s.parse().unwrap());
        assert!(ok("tauri://localhost/index.html#/jobs/1"));
        assert!(ok("http://tauri.localhost/index.html"));
        assert!(!ok("http://127.0.0.1:7412/?token=x"));
        assert!(!ok("https://example.com/"));
        assert!(!ok("tauri://evil.example/"));
        assert!(!ok("file:///etc/passwd"));
    }
}
