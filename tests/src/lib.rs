//! Test harness: real redis-server, scripted SSE servers, a running engine.

pub mod engine_on_disk;
pub mod faults;
pub mod redis_server;
pub mod relay_client;
pub mod silent_proxy;
pub mod sse_server;
pub mod tmpfs;
