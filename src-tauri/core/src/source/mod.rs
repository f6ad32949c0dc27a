//! Sources: where events come from. Each source task parses and normalises what it
//! receives and hands [`crate::hub::Ingest`] batches to the hub over a bounded channel.

pub mod bullmq;
pub mod redis;
pub mod sse;
pub mod url;
