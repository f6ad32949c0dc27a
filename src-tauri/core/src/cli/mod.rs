//! The `telltale` command line (DESIGN §9). The desktop shell calls [`main`] too; with
//! no subcommand it opens the window (or, headless, says to use `telltale serve`).

mod demo;
mod history;
mod output;
mod serve;
mod stop_signal;
mod tail;
mod tail_redis;
mod time_arg;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use demo::DemoArgs;
pub use history::HistoryArgs;
pub use serve::{start_headless_engine, CommonArgs, Running, ServeArgs};
pub use tail::TailArgs;
pub use time_arg::parse_time_arg;

#[derive(Debug, Parser)]
#[command(
    name = "telltale",
    version,
    about = "Live board, alerts and history for background jobs"
)]
pub struct Cli {
    /// Config file (default: the OS config dir's telltale/telltale.toml; also TELLTALE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Query the local history (works offline).
    History(HistoryArgs),
    /// Follow one source and print its events as JSON lines (no database).
    Tail(TailArgs),
    /// Run the engine, its sources and the relay with no window; prints the UI's URL.
    Serve(ServeArgs),
    /// `serve` with the built-in demo source (simulated jobs).
    Demo(DemoArgs),
}

/// Logs go to stderr so stdout stays clean for JSON lines and tables.
/// `TELLTALE_LOG` sets the filter (default `info`).
pub fn init_tracing() {
    init_tracing_with("info");
}

/// [`init_tracing`] with another default filter (still overridden by `TELLTALE_LOG`).
pub fn init_tracing_with(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TELLTALE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs one parsed command. `Ok(None)` = no subcommand: the caller decides (the
/// desktop build opens the window).
pub fn run(cli: Cli) -> anyhow::Result<Option<ExitCode>> {
    match cli.command {
        None => Ok(None),
        Some(Command::History(args)) => history::run(cli.config.as_deref(), args).map(Some),
        Some(Command::Tail(args)) => tail::run(args).map(Some),
        Some(Command::Serve(args)) => serve::run(cli.config.as_deref(), args).map(Some),
        Some(Command::Demo(args)) => demo::run(cli.config.as_deref(), args).map(Some),
    }
}

/// Entry point for the headless binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        // `tail` reports connection state on stderr itself (see `tail::LOG_FILTER`).
        Some(Command::Tail(_)) => init_tracing_with(tail::LOG_FILTER),
        _ => init_tracing(),
    }
    match run(cli) {
        Ok(Some(code)) => code,
        Ok(None) => {
            eprintln!(
                "telltale: this build has no desktop window. Run `telltale serve` and open the URL it prints, or `telltale --help`."
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("telltale: {e:#}");
            ExitCode::FAILURE
        }
    }
}
