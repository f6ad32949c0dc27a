//! Whether a window can open at all. Without a display, GTK would abort with a
//! cryptic message after the engine had already started.

pub fn available() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        // macOS and Windows always have a window server for a logged-in user.
        true
    }
}
