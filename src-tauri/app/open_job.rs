//! Opening one job in the window: from the tray's recent failures or a click on a
//! notification. The UI routes by hash (`#/jobs/<id>`), so setting the hash from here
//! works whatever view is showing and needs no permission or event listener in the page.

use tauri::{AppHandle, Manager, Runtime};
use telltale_core::rules::EntityRef;

use crate::window::{self, MAIN};

pub fn open<R: Runtime>(app: &AppHandle<R>, job: &EntityRef) {
    window::show(app);
    if let Some(w) = app.get_webview_window(MAIN) {
        let hash = serde_json::to_string(&route(&job.entity)).expect("a string serialises");
        if let Err(e) = w.eval(format!("window.location.hash = {hash};")) {
            tracing::warn!(error = %e, "cannot open the job in the window");
        }
    }
}

/// `#/jobs/<id>` with the id encoded like `encodeURIComponent` (the UI decodes each
/// path segment with `decodeURIComponent`): ids such as `test:42:status` or with
/// slashes stay one segment.
fn route(job_id: &str) -> String {
    let mut out = String::from("#/jobs/");
    for b in job_id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn job_ids_become_one_hash_segment() {
        assert_eq!(route("resize-17"), "#/jobs/resize-17");
        assert_eq!(route("test:42/a b"), "#/jobs/test%3A42%2Fa%20b");
        assert_eq!(route("é"), "#/jobs/%C3%A9");
    }
}
