//! End-to-end tests: one binary, real processes, real SQLite files, loopback only.

mod bullmq;
mod disk_full;
mod faults;
mod redis_pubsub;
mod relay;
mod relay_write;
mod seeds_sse;
mod sse_client;
mod sse_oversize;
mod store_crash;
mod tail;
