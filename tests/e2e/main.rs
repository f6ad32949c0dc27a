
mod sse_client;
