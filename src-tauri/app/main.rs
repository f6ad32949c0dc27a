//! The `telltale` program. Headless subcommands live in `telltale-core`; with no
//! subcommand the desktop build opens the window.

fn main() -> std::process::ExitCode {
    telltale_app::main()
}
