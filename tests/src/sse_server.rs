//! A scripted HTTP/1.1 server for SSE tests: real TCP on 127.0.0.1 port 0, with every
//! response byte under the test's control (status lines, headers, a body written one
//! byte at a time, connections held open silently or dropped mid-event).
//!
//! Each accepted connection serves exactly one request (responses say
//! `Connection: close`), so "connection n" and "request n" are the same thing, and a
//! test's handler decides what request n gets.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Requests larger than this are not what these tests send; stop reading there.
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Order of arrival, from 0.
    pub index: usize,
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Every request received so far, shared by the server and the test.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    pub fn all(&self) -> Vec<Request> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits (polling; this is the server side, not an assertion) until a request
    /// matches, or `deadline` passes.
    pub async fn wait_for(
        &self,
        deadline: Duration,
        mut matches: impl FnMut(&Request) -> bool,
    ) -> Option<Request> {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            if let Some(r) = self.all().into_iter().find(|r| matches(r)) {
                return Some(r);
            }
            if tokio::time::Instant::now() >= give_up {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn push(&self, mut request: Request) -> Request {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        request.index = v.len();
        v.push(request.clone());
        request
    }
}

/// One accepted connection with its parsed request.
pub struct Conn {
    pub request: Request,
    pub log: RequestLog,
    stream: TcpStream,
}

impl Conn {
    /// Writes and flushes; errors (the client went away) are returned, not panicked on.
    pub async fn write(&mut self, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        self.stream.write_all(bytes.as_ref()).await?;
        self.stream.flush().await
    }

    /// `200 OK`, `text/event-stream`, body delimited by closing the connection.
    pub async fn sse_head(&mut self) -> std::io::Result<()> {
        self.write(sse_head("text/event-stream", &[])).await
    }

    /// Writes one byte per write, pausing briefly so they arrive as separate reads.
    pub async fn drip(&mut self, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        for b in bytes.as_ref() {
            self.write([*b]).await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// A complete response with no body.
    pub async fn status(&mut self, status: &str, headers: &[(&str, &str)]) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.write(head).await
    }

    /// A complete response with a body.
    pub async fn respond(
        &mut self,
        status: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        self.write(head).await?;
        self.write(body).await
    }

    /// Keeps the connection open and silent until the client closes it (or `limit`).
    pub async fn hold(mut self, limit: Duration) {
        let mut buf = [0u8; 1024];
        let _ = tokio::time::timeout(limit, async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}

/// The head of a `200 OK` streaming response with a close-delimited body.
pub fn sse_head(content_type: &str, extra: &[(&str, &str)]) -> String {
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\nConnection: close\r\n"
    );
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// A server on 127.0.0.1 that hands each connection to the test's handler. Stops
/// (aborting open connections) when dropped.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    pub log: RequestLog,
    accept: JoinHandle<()>,
}

impl ScriptedServer {
    pub async fn start<F, Fut>(handler: F) -> std::io::Result<Self>
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = RequestLog::default();
        let handler = Arc::new(handler);
        let accept_log = log.clone();
        let accept = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let log = accept_log.clone();
                let handler = handler.clone();
                connections.spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let request = log.push(request);
                    handler(Conn {
                        request,
                        log,
                        stream,
                    })
                    .await;
                });
            }
        });
        Ok(ScriptedServer { addr, log, accept })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.all()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        // The JoinSet inside is dropped with the task, which aborts every connection.
        self.accept.abort();
    }
}

/// Reads a request head (and ignores any body: these tests send none that matters).
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Request {
        index: 0,
        method,
        target,
        headers,
    })
}
