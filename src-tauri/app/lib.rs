//! The desktop shell. It holds no business logic: everything is in `telltale-core`.
//! Until the desktop feature lands (Tauri window, tray, notifications), `telltale`
//! with no subcommand explains how to use `telltale serve`.

pub fn main() -> std::process::ExitCode {
    telltale_core::cli::main()
}
