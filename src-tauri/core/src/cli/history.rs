//! `telltale history`: query the local store, offline.

use std::io::Write;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::output::{write_entities, write_events, Format};
use super::time_arg::parse_time_arg;
use crate::model::{now_millis, EntityKind, Status};
use crate::store::{EventFilter, Reader};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Job,
    Queue,
    Worker,
    Source,
}

impl From<KindArg> for EntityKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Job => EntityKind::Job,
            KindArg::Queue => EntityKind::Queue,
            KindArg::Worker => EntityKind::Worker,
            KindArg::Source => EntityKind::Source,
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Database to read instead of the configured one (the config also honours TELLTALE_DB).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// One entity (job id, queue name, worker id): its whole timeline.
    #[arg(long, short = 'e')]
    pub entity: Option<String>,
    #[arg(long, short = 'k', value_enum)]
    pub kind: Option<KindArg>,
    /// Status such as failed, running, completed (or any status a source reported).
    #[arg(long, short = 's')]
    pub status: Option<String>,
    /// Source name.
    #[arg(long)]
    pub source: Option<String>,
    /// From this time: 15m, 2h, 7d (ago), or 2026-11-23T14:00:00Z.
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Full-text search over entity, message, error and raw payload.
    #[arg(long, short = 't')]
    pub text: Option<String>,
    /// Latest state per entity instead of events.
    #[arg(long)]
    pub latest: bool,
    /// At most this many rows (the newest).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
}

pub fn run(config: Option<&Path>, args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let db = match args.db.clone() {
        Some(db) => db,
        None => crate::config::Config::load(config)?.config.store.db,
    };
    let reader = Reader::open(&db)?;
    let now = now_millis();
    let filter = EventFilter {
        source: args.source.clone(),
        kind: args.kind.map(Into::into),
        entity: args.entity.clone(),
        status: args.status.as_deref().map(Status::from_stored),
        from: args
            .since
            .as_deref()
            .map(|s| parse_time_arg(s, now))
            .transpose()
            .map_err(anyhow::Error::msg)
            .context("--since")?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time_arg(s, now))
            .transpose()
            .map_err(anyhow::Error::msg)
            .context("--until")?,
    };
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        Format::Table
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.latest {
        let states = reader.latest(&filter, args.limit)?;
        write_entities(&mut out, format, &states, now)?;
    } else {
        let mut events = match (&args.text, &args.entity) {
            (Some(text), _) => reader.search(text, &filter, args.limit)?,
            (None, Some(_)) if filter.from.is_none() && filter.until.is_none() => {
                // A timeline reads best oldest first; show its newest `limit`.
                let mut all = reader.query(&filter, args.limit)?;
                all.reverse();
                all
            }
            _ => reader.query(&filter, args.limit)?,
        };
        if args.text.is_some()
            || args.entity.is_none()
            || filter.from.is_some()
            || filter.until.is_some()
        {
            // Queries come newest first; print oldest first like a log.
            events.reverse();
        }
        write_events(&mut out, format, &events)?;
    }
    out.flush().or_else(ignore_broken_pipe)?;
    Ok(ExitCode::SUCCESS)
}

/// `telltale history | head` closes the pipe early: that is not an error.
pub(crate) fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}
