//! Test harness: real redis-server, scripted SSE servers, a running engine.

pub mod sse_server;
