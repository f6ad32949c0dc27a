//! End-to-end tests: one binary, real processes, real SQLite files, loopback only.

mod store_crash;
mod sse_client;
mod tail;
mod bullmq;
mod redis_pubsub;
mod relay;
mod disk_full;
mod seeds_sse;
mod faults;
mod relay_write;
mod sse_oversize;
