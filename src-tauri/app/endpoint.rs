//! How the window's UI finds the relay: its address and access token.
//!
//! The UI reads `window.__TELLTALE__ = {relay, token}`, set by an initialization script
//! that runs before the page's own scripts. The token never appears in a URL (no
//! history, no referrer, no logs), and only our own window gets it: the window loads
//! nothing but the bundled UI (see `window.rs`). The `relay_endpoint` command gives the
//! same answer to a UI that prefers to ask (`invoke("relay_endpoint")`); the
//! capability allows it for the main window's local pages only.

use serde::Serialize;

#[derive(Clone, Serialize)]
pub struct RelayEndpoint {
    /// `http://127.0.0.1:PORT`
    pub relay: String,
    pub token: String,
}

impl RelayEndpoint {
    /// The initialization script. JSON is a subset of JavaScript, so serde's escaping
    /// makes any token or address text a safe literal.
    pub fn init_script(&self) -> String {
        let value = serde_json::to_string(self).expect("two strings serialise");
        format!(
            "Object.defineProperty(window, '__TELLTALE__', {{ value: Object.freeze({value}), writable: false, configurable: false }});"
        )
    }
}

#[tauri::command]
pub fn relay_endpoint(endpoint: tauri::State<'_, RelayEndpoint>) -> RelayEndpoint {
    endpoint.inner().clone()
}
