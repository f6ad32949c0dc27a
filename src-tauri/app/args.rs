//! The desktop program's command line: the headless subcommands, plus `serve`'s
//! ad-hoc flags at the top level so `telltale --source URL` opens a window on a source
//! in one command.

use std::path::PathBuf;

use clap::Parser;
use telltale_core::cli::{Command, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "telltale",
    version,
    about = "Live board, alerts and history for background jobs",
    long_about = "Live board, alerts and history for background jobs.\n\n\
                  With no subcommand, opens the desktop window (the flags below are those of `telltale serve`)."
)]
pub struct DesktopCli {
    /// Config file (default: the OS config dir's telltale/telltale.toml; also TELLTALE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub open: ServeArgs,
    /// Start in the tray with the window hidden (for starting at login).
    #[arg(long)]
    pub hidden: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_flags_are_serves_flags() {
        let cli = DesktopCli::try_parse_from([
            "telltale",
            "--source",
            "redis://127.0.0.1:6379?channel=jobs",
            "-H",
            "X-Tenant: acme",
            "--db",
            "/tmp/t.db",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.open.sources, ["redis://127.0.0.1:6379?channel=jobs"]);
        assert_eq!(cli.open.headers, ["X-Tenant: acme"]);
        assert_eq!(cli.open.common.db, Some(PathBuf::from("/tmp/t.db")));
    }

    #[test]
    fn subcommands_still_parse() {
        let cli =
            DesktopCli::try_parse_from(["telltale", "--config", "c.toml", "serve", "--db", "x.db"])
                .unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(_))));
        // With a subcommand the headless parser takes over, and it has no window flags
        // before the subcommand: a mix is refused there, with clap's usual message.
        assert!(
            telltale_core::cli::Cli::try_parse_from(["telltale", "--source", "u", "serve"])
                .is_err()
        );
    }
}
