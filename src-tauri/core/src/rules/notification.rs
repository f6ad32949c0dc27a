//! What the shell shows: a title, a body, and the entity to open on click.

use crate::model::{EntityKind, Event, Status};

/// One job (or worker, queue, source) by the key the board uses, plus its source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityRef {
    pub kind: EntityKind,
    pub source: String,
    pub entity: String,
}

impl EntityRef {
    pub fn of(e: &Event) -> Self {
        EntityRef {
            kind: e.kind,
            source: e.source.clone(),
            entity: e.entity.clone(),
        }
    }
}

/// One desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub body: String,
    /// What a click opens: the entity of a single-entity notification; for a summary,
    /// the most recent of them (the UI's job view links to the rest).
    pub open: Option<EntityRef>,
    /// How many entities this notification stands for (1, or the burst's size).
    pub count: usize,
    /// The queue all of them share, if they do.
    pub queue: Option<String>,
}

/// Longest error or message text shown in a notification body: desktop daemons cut
/// long bodies anyway, and a stack trace is for the job view.
const BODY_TEXT_MAX: usize = 160;

/// What the burst held for each entity.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) key: EntityRef,
    pub(super) status: Status,
    pub(super) queue: Option<String>,
    pub(super) detail: Option<String>,
}

impl Held {
    pub(super) fn of(e: &Event) -> Self {
        Held {
            key: EntityRef::of(e),
            status: e.status.clone(),
            queue: e.parent.clone(),
            detail: e.error.clone().or_else(|| e.message.clone()),
        }
    }
}

/// "Job failed: resize-17" / "resume-analysis · api-prod" / the error.
pub(super) fn single(h: Held) -> Notification {
    let title = format!(
        "{} {}: {}",
        capitalised(h.key.kind.as_str()),
        h.status,
        h.key.entity
    );
    let mut lines = Vec::new();
    lines.push(match &h.queue {
        Some(q) => format!("{q} · {}", h.key.source),
        None => h.key.source.clone(),
    });
    if let Some(d) = h.detail.as_deref().map(one_line).filter(|d| !d.is_empty()) {
        lines.push(d);
    }
    Notification {
        title,
        body: lines.join("\n"),
        queue: h.queue.clone(),
        open: Some(h.key),
        count: 1,
    }
}

/// "12 jobs failed in queue resume-analysis", or across queues "12 jobs failed" with
/// the biggest queues in the body.
pub(super) fn summary(held: Vec<Held>) -> Notification {
    if held.len() == 1 {
        return single(held.into_iter().next().expect("one"));
    }
    let n = held.len();
    let first = &held[0];
    let same_kind = held.iter().all(|h| h.key.kind == first.key.kind);
    let same_status = held.iter().all(|h| h.status == first.status);
    let noun = if same_kind {
        format!("{}s", first.key.kind.as_str())
    } else {
        "entities".to_string()
    };
    let what = if same_status {
        format!("{n} {noun} {}", first.status)
    } else {
        format!("{n} {noun} need attention")
    };
    let shared_queue = first
        .queue
        .clone()
        .filter(|q| held.iter().all(|h| h.queue.as_ref() == Some(q)));
    let title = match &shared_queue {
        Some(q) => format!("{what} in queue {q}"),
        None => what,
    };
    // Body: where they came from, biggest group first, at most three groups.
    let mut groups: Vec<(String, usize)> = Vec::new();
    for h in &held {
        let label = h.queue.clone().unwrap_or_else(|| h.key.source.clone());
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, c)) => *c += 1,
            None => groups.push((label, 1)),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let body = if shared_queue.is_some() {
        let ids: Vec<&str> = held.iter().take(3).map(|h| h.key.entity.as_str()).collect();
        let more = n.saturating_sub(ids.len());
        if more > 0 {
            format!("{} and {more} more", ids.join(", "))
        } else {
            ids.join(", ")
        }
    } else {
        let mut parts: Vec<String> = groups
            .iter()
            .take(3)
            .map(|(l, c)| format!("{l}: {c}"))
            .collect();
        if groups.len() > 3 {
            parts.push(format!("{} more places", groups.len() - 3));
        }
        parts.join(" · ")
    };
    let open = held.last().map(|h| h.key.clone());
    Notification {
        title,
        body,
        open,
        count: n,
        queue: shared_queue,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// First line, trimmed and cut to [`BODY_TEXT_MAX`] characters.
fn one_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > BODY_TEXT_MAX {
        let cut: String = line.chars().take(BODY_TEXT_MAX - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}
