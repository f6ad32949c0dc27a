//! What recognition found in one message, before overrides and defaults turn it into
//! an [`Event`](crate::model::Event).

use crate::model::{EntityKind, Millis, QueueCounts, Status};

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Fields {
    /// `None`: let [`Fields::kind_or_default`] decide from what else was found.
    pub kind: Option<EntityKind>,
    pub entity: Option<String>,
    pub parent: Option<String>,
    pub status: Option<Status>,
    pub progress: Option<f64>,
    pub stage: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub counts: Option<QueueCounts>,
    pub occurred_at: Option<Millis>,
    /// The payload had a shape we know (a type word, a status, an id field, progress),
    /// as opposed to merely arriving on a channel whose name we know.
    pub recognised: bool,
}

/// The status text of whatever we could not interpret at all.
pub(super) const UNKNOWN: &str = "unknown";

impl Fields {
    /// A message about a job unless something said otherwise. What we could not
    /// interpret and cannot attach to any entity goes on the source's own timeline:
    /// a job invented from nothing would sit on the board forever.
    pub(super) fn kind_or_default(&self) -> EntityKind {
        match self.kind {
            Some(k) => k,
            None if self.entity.is_some() || self.recognised => EntityKind::Job,
            None => EntityKind::Source,
        }
    }
}
