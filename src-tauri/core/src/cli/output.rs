//! Output formats shared by `history` and `tail`: a table for people, JSON lines and
//! CSV for scripts.

use std::io::{self, Write};

use serde::Serialize;

use super::time_arg::format_millis;
use crate::board::EntityState;
use crate::model::{Event, Millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// The JSON line for one event: the event itself plus a readable `time`.
#[derive(Serialize)]
struct EventLine<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

pub fn event_json(e: &Event) -> String {
    serde_json::to_string(&EventLine {
        time: format_millis(e.received_at),
        event: e,
    })
    .unwrap_or_else(|_| "{}".into())
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn clip(s: &str, n: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut t: String = one_line.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn progress(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.0}%")).unwrap_or_default()
}

pub fn write_events<W: Write>(w: &mut W, format: Format, events: &[Event]) -> io::Result<()> {
    let r = match format {
        Format::Json => events
            .iter()
            .try_for_each(|e| writeln!(w, "{}", event_json(e))),
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut *w);
            c.write_record([
                "seq",
                "time",
                "received_at",
                "source",
                "kind",
                "entity",
                "parent",
                "status",
                "progress",
                "stage",
                "message",
                "error",
            ])?;
            for e in events {
                c.write_record([
                    e.seq.to_string(),
                    format_millis(e.received_at),
                    e.received_at.to_string(),
                    e.source.clone(),
                    e.kind.to_string(),
                    e.entity.clone(),
                    opt(&e.parent),
                    e.status.to_string(),
                    opt(&e.progress),
                    opt(&e.stage),
                    opt(&e.message),
                    opt(&e.error),
                ])?;
            }
            c.flush()
        }
        Format::Table => {
            if events.is_empty() {
                return writeln!(w, "no events match");
            }
            writeln!(
                w,
                "{:>8}  {:<23}  {:<14}  {:<6}  {:<24}  {:<12}  {:>5}  MESSAGE",
                "SEQ", "TIME", "SOURCE", "KIND", "ENTITY", "STATUS", "PROG"
            )?;
            events.iter().try_for_each(|e| {
                let text = e.error.as_deref().or(e.message.as_deref()).unwrap_or("");
                writeln!(
                    w,
                    "{:>8}  {:<23}  {:<14}  {:<6}  {:<24}  {:<12}  {:>5}  {}",
                    e.seq,
                    format_millis(e.received_at),
                    clip(&e.source, 14),
                    e.kind.as_str(),
                    clip(&e.entity, 24),
                    clip(e.status.as_str(), 12),
                    progress(e.progress),
                    clip(text, 80)
                )
            })
        }
    };
    r.or_else(super::history::ignore_broken_pipe)
}

pub fn write_entities<W: Write>(
    w: &mut W,
    format: Format,
    states: &[EntityState],
    now: Millis,
) -> io::Result<()> {
    let r = match format {
        Format::Json => states.iter().try_for_each(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            if let Some(d) = s.duration_ms(now) {
                v["duration_ms"] = d.into();
            }
            writeln!(w, "{v}")
        }),
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut *w);
            c.write_record([
                "kind",
                "entity",
                "source",
                "parent",
                "status",
                "progress",
                "stage",
                "message",
                "error",
                "first_seen",
                "started_at",
                "finished_at",
                "duration_ms",
                "last_seen",
                "last_seq",
                "events",
            ])?;
            for s in states {
                c.write_record([
                    s.kind.to_string(),
                    s.entity.clone(),
                    s.source.clone(),
                    opt(&s.parent),
                    s.status.to_string(),
                    opt(&s.progress),
                    opt(&s.stage),
                    opt(&s.message),
                    opt(&s.error),
                    format_millis(s.first_seen),
                    s.started_at.map(format_millis).unwrap_or_default(),
                    s.finished_at.map(format_millis).unwrap_or_default(),
                    opt(&s.duration_ms(now)),
                    format_millis(s.last_seen),
                    s.last_seq.to_string(),
                    s.events.to_string(),
                ])?;
            }
            c.flush()
        }
        Format::Table => {
            if states.is_empty() {
                return writeln!(w, "nothing matches");
            }
            writeln!(
                w,
                "{:<6}  {:<24}  {:<12}  {:>5}  {:<23}  {:>9}  {:<14}  MESSAGE",
                "KIND", "ENTITY", "STATUS", "PROG", "LAST SEEN", "DURATION", "SOURCE"
            )?;
            states.iter().try_for_each(|s| {
                let text = s.error.as_deref().or(s.message.as_deref()).unwrap_or("");
                writeln!(
                    w,
                    "{:<6}  {:<24}  {:<12}  {:>5}  {:<23}  {:>9}  {:<14}  {}",
                    s.kind.as_str(),
                    clip(&s.entity, 24),
                    clip(s.status.as_str(), 12),
                    progress(s.progress),
                    format_millis(s.last_seen),
                    s.duration_ms(now)
                        .map(
                            |d| humantime::format_duration(std::time::Duration::from_millis(
                                d as u64 / 1000 * 1000
                            ))
                            .to_string()
                        )
                        .unwrap_or_default(),
                    clip(&s.source, 14),
                    clip(text, 60)
                )
            })
        }
    };
    r.or_else(super::history::ignore_broken_pipe)
}
