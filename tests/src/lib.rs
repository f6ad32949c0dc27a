pub mod x {}
pub mod sse_server;
