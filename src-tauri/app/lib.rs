//! The `telltale` program's shell. It holds no business logic: the engine, relay,
//! notification rules and the headless commands are all in `telltale-core`.
//!
//! With the `desktop` feature (the default), `telltale` with no subcommand opens the
//! window: the engine and relay run in-process, the window shows the bundled UI, which
//! talks to the relay like any browser would. Without it, the program is headless.

#[cfg(feature = "desktop")]
mod alerts;
#[cfg(feature = "desktop")]
mod args;
#[cfg(feature = "desktop")]
mod display;
#[cfg(feature = "desktop")]
mod endpoint;
#[cfg(feature = "desktop")]
mod live;
#[cfg(feature = "desktop")]
mod notifications;
#[cfg(feature = "desktop")]
mod open_job;
#[cfg(feature = "desktop")]
mod shell;
#[cfg(feature = "desktop")]
mod single_instance;
#[cfg(feature = "desktop")]
mod tray;
#[cfg(feature = "desktop")]
mod window;

use std::process::ExitCode;

#[cfg(feature = "desktop")]
pub fn main() -> ExitCode {
    use clap::Parser;

    let cli = args::DesktopCli::parse();
    if cli.command.is_some() {
        // A subcommand: the headless program, which parses the same arguments the same
        // way (and sets up its own logging per command).
        return telltale_core::cli::main();
    }
    telltale_core::cli::init_tracing();
    if !display::available() {
        eprintln!(
            "telltale: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so no window can open. \
             Run `telltale serve` to start the engine and relay headless and open the URL it prints in a browser."
        );
        return ExitCode::from(2);
    }
    match shell::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("telltale: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "desktop"))]
pub fn main() -> ExitCode {
    telltale_core::cli::main()
}
