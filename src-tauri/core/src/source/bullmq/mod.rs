//! BullMQ queues read natively from Redis (issue 4, item 2): no code on the monitored
//! system, and never a write to its Redis.
//!
//! - [`follower`]: the loop: `XREAD BLOCK` on `<prefix>:<queue>:events` from the saved
//!   stream ids, queue counts and workers at an interval, reconnects.
//! - [`job_event`]: BullMQ's stream entries as job and queue events.
//! - [`trim`]: noticing that the stream was trimmed past our position, and restoring
//!   final states from the completed and failed sets.
//! - [`counts`]: queue counts in one pipelined round trip; [`workers`]: workers from
//!   `CLIENT LIST`.
//! - [`keys`]: BullMQ's key and connection names; [`stream_id`]: stream ids;
//!   [`cursor`]: the per-queue positions saved with the events; [`config`];
//!   [`update`]: what a running source reports.

pub mod config;
pub mod counts;
pub mod cursor;
pub mod follower;
pub mod job_event;
pub mod keys;
pub mod stream_id;
pub mod trim;
pub mod update;
pub mod workers;

pub use config::BullMqConfig;
pub use cursor::StreamCursors;
pub use follower::BullMqFollower;
pub use update::{BullMqState, BullMqUpdate};
