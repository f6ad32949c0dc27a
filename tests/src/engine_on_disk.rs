//! A real engine on a real SQLite file, and what it stored: the setup most
//! end-to-end tests share.

use std::path::Path;

use telltale_core::engine::{Engine, EngineOptions};
use telltale_core::model::Event;
use telltale_core::store::{EventFilter, Reader, Retention};

/// Starts the engine (hub and store, no sources yet) on `db`, without retention.
pub fn start_engine(db: &Path) -> Engine {
    Engine::start(EngineOptions {
        db: db.to_path_buf(),
        retention: Retention::default(),
    })
    .expect("engine starts")
}

/// Every stored event in seq order (empty while the database does not exist yet).
pub fn stored_events(db: &Path) -> Vec<Event> {
    Reader::open(db)
        .and_then(|r| r.since(0, &EventFilter::default(), 1_000_000))
        .unwrap_or_default()
}
