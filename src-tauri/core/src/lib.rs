//! Telltale's engine: everything except the desktop shell.
//!
//! Data flow (DESIGN §3): sources parse and normalise → bounded channel → the hub
//! (one writer thread) persists a batch, updates the board, then broadcasts to the
//! relay and the rules.

pub mod board;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod hub;
pub mod model;
pub mod normalize;
pub mod relay;
pub mod rules;
pub mod source;
pub mod store;

pub use model::{EntityKind, Event, Millis, QueueCounts, RawMessage, Status};
