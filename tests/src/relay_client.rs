//! Harness for the relay's end-to-end tests: a real engine on a temporary SQLite file
//! with a relay on 127.0.0.1 port 0, a raw-TCP SSE client (the bytes on the wire,
//! not a library's reading of them), and a probe of the process's memory.
//!
//! Every read takes a deadline; nothing here waits forever.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use telltale_core::engine::{Engine, EngineOptions};
use telltale_core::hub::{Ingest, IngestSender};
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::relay::{AccessToken, Relay, RelayOptions};
use telltale_core::store::Retention;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The token every harness relay uses (tests must be able to send a wrong one).
pub const TEST_TOKEN: &str = "relay-test-token-0123456789abcdef";

/// An engine and a relay on a temporary database.
pub struct RelayHarness {
    pub engine: Option<Engine>,
    pub relay: Option<Relay>,
    pub addr: SocketAddr,
    pub db: PathBuf,
    _dir: tempfile::TempDir,
}

impl RelayHarness {
    /// Heartbeats every `heartbeat` so tests can see them without waiting 15 s.
    pub async fn start(heartbeat: Duration) -> anyhow::Result<Self> {
        Self::start_with(|o| o.heartbeat = heartbeat).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut RelayOptions)) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("relay.db");
        let engine = Engine::start(EngineOptions {
            db: db.clone(),
            retention: Retention::default(),
        })?;
        let mut opts = RelayOptions::new(AccessToken::new(TEST_TOKEN)?);
        tune(&mut opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let relay = Relay::for_engine(listener, &engine, opts)?;
        let addr = relay.local_addr();
        Ok(RelayHarness {
            engine: Some(engine),
            relay: Some(relay),
            addr,
            db,
            _dir: dir,
        })
    }

    pub fn sender(&self) -> IngestSender {
        self.engine.as_ref().expect("engine running").hub().sender()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Relay first (it holds the hub), then the engine, which commits what is pending.
    pub async fn shutdown(mut self) {
        if let Some(r) = self.relay.take() {
            r.shutdown().await;
        }
        if let Some(e) = self.engine.take() {
            e.shutdown().await;
        }
    }
}

/// A job event numbered `i` (its `remote_id` too, so the hub does not dedupe it).
pub fn job_event(source: &str, i: u64) -> Event {
    let mut e = Event::new(
        source,
        EntityKind::Job,
        format!("job-{}", i % 500),
        Status::Running,
    );
    e.progress = Some((i % 100) as f64);
    e.message = Some(format!("step {i}"));
    e.remote_id = Some(i.to_string());
    e.parent = Some("emails".into());
    e.raw = format!("{{\"n\":{i}}}");
    e
}

/// Publishes events `first..first + count` through the hub in batches of `batch`,
/// pacing to `per_second` (0 = as fast as the hub takes them).
pub async fn publish(
    sender: &IngestSender,
    source: &str,
    first: u64,
    count: u64,
    batch: u64,
    per_second: u64,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut i = first;
    while i < first + count {
        let n = batch.min(first + count - i);
        let events = (i..i + n).map(|k| job_event(source, k)).collect();
        sender.send(Ingest::new(source, events)).await?;
        i += n;
        if per_second > 0 {
            let due = start + Duration::from_secs_f64((i - first) as f64 / per_second as f64);
            tokio::time::sleep_until(due).await;
        }
    }
    Ok(())
}

/// One SSE event as seen on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// A minimal raw HTTP/1.1 + SSE client over a TCP socket. It implements just enough
/// of the event-stream format for these tests (fields `id`, `event`, `data`, `retry`,
/// comments; LF line ends, which is what both servers write), and keeps every comment
/// line so heartbeats can be asserted.
pub struct RawSse {
    stream: TcpStream,
    buf: Vec<u8>,
    pub status: u16,
    pub head: String,
    pub comments: Vec<String>,
    pub retry: Option<u64>,
    chunked: bool,
    /// Bytes left in the current chunk when the body is chunked.
    chunk_left: usize,
    body: Vec<u8>,
}

impl RawSse {
    /// Connects and sends `GET path` with `headers`; reads the response head.
    pub async fn connect(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        deadline: Instant,
    ) -> anyhow::Result<Self> {
        let mut stream = tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await??;
        let mut req = format!("GET {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {addr}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("Accept: text/event-stream\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let mut me = RawSse {
            stream,
            buf: Vec::new(),
            status: 0,
            head: String::new(),
            comments: Vec::new(),
            retry: None,
            chunked: false,
            chunk_left: 0,
            body: Vec::new(),
        };
        loop {
            if let Some(end) = find(&me.buf, b"\r\n\r\n") {
                me.head = String::from_utf8_lossy(&me.buf[..end]).into_owned();
                me.buf.drain(..end + 4);
                break;
            }
            me.fill(deadline).await?;
        }
        let status_line = me.head.lines().next().unwrap_or_default().to_string();
        me.status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("bad status line {status_line:?}"))?;
        me.chunked = me
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        Ok(me)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        // Iterator adapter, not a skipped test: the first line is the status line.
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    async fn fill(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let mut tmp = [0u8; 64 * 1024];
        let n = tokio::time::timeout_at(deadline, self.stream.read(&mut tmp))
            .await
            .map_err(|_| anyhow::anyhow!("timed out reading from the server"))??;
        if n == 0 {
            anyhow::bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }

    /// Moves decoded body bytes from `buf` to `body` (undoing chunked encoding).
    fn decode(&mut self) -> anyhow::Result<()> {
        if !self.chunked {
            self.body.append(&mut self.buf);
            return Ok(());
        }
        loop {
            if self.chunk_left > 0 {
                let n = self.chunk_left.min(self.buf.len());
                if n == 0 {
                    return Ok(());
                }
                self.body.extend(self.buf.drain(..n));
                self.chunk_left -= n;
                if self.chunk_left == 0 {
                    // The CRLF after the chunk is consumed with the next size line.
                }
                continue;
            }
            let Some(end) = find(&self.buf, b"\r\n") else {
                return Ok(());
            };
            let line = String::from_utf8_lossy(&self.buf[..end]).trim().to_string();
            self.buf.drain(..end + 2);
            if line.is_empty() {
                continue; // the CRLF that ends a chunk
            }
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| anyhow::anyhow!("bad chunk size line {line:?}"))?;
            if size == 0 {
                anyhow::bail!("the server ended the stream");
            }
            self.chunk_left = size;
        }
    }

    /// The next event (comments and `retry:` are recorded on the way).
    pub async fn next_frame(&mut self, deadline: Instant) -> anyhow::Result<Frame> {
        loop {
            self.decode()?;
            if let Some(frame) = self.take_frame()? {
                return Ok(frame);
            }
            self.fill(deadline).await?;
        }
    }

    /// Reads until `n` events have arrived.
    pub async fn frames(&mut self, n: usize, deadline: Instant) -> anyhow::Result<Vec<Frame>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(self.next_frame(deadline).await?);
        }
        Ok(out)
    }

    /// Waits until a comment line has arrived.
    pub async fn wait_comment(&mut self, text: &str, deadline: Instant) -> anyhow::Result<()> {
        loop {
            self.decode()?;
            while self.take_frame()?.is_some() {}
            if self.comments.iter().any(|c| c.contains(text)) {
                return Ok(());
            }
            self.fill(deadline).await?;
        }
    }

    /// Parses one complete event block from the decoded body, if there is one. Blocks
    /// holding only comments or `retry:` yield nothing and are consumed.
    fn take_frame(&mut self) -> anyhow::Result<Option<Frame>> {
        loop {
            let Some(end) = find(&self.body, b"\n\n") else {
                return Ok(None);
            };
            let block: Vec<u8> = self.body.drain(..end + 2).collect();
            let text =
                std::str::from_utf8(&block).map_err(|e| anyhow::anyhow!("not UTF-8: {e}"))?;
            let mut frame = Frame::default();
            let mut has_data = false;
            for line in text.split('\n').filter(|l| !l.is_empty()) {
                if let Some(c) = line.strip_prefix(':') {
                    self.comments.push(c.trim().to_string());
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => frame.id = Some(value.to_string()),
                    "event" => frame.event = Some(value.to_string()),
                    "retry" => self.retry = value.parse().ok(),
                    "data" => {
                        if has_data {
                            frame.data.push('\n');
                        }
                        frame.data.push_str(value);
                        has_data = true;
                    }
                    other => anyhow::bail!("unexpected SSE field {other:?} in {text:?}"),
                }
            }
            if has_data {
                return Ok(Some(frame));
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends one raw request and returns the status and the whole response text (the
/// server closes or the deadline passes). For the access-control tests, where the
/// exact `Host` and `Origin` bytes matter.
pub async fn raw_status(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> anyhow::Result<(u16, String)> {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("Connection", "close"));
    let mut c = RawSse::connect(addr, path, &all, deadline).await?;
    // Error bodies are small and sent whole; read what is there without waiting for more.
    let _ = tokio::time::timeout(Duration::from_millis(200), c.fill(deadline)).await;
    let body = String::from_utf8_lossy(&c.buf).into_owned();
    Ok((c.status, format!("{}\r\n\r\n{body}", c.head)))
}

/// The process's resident set size, from /proc/self/status (Linux).
pub fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("cannot read {line:?}"))?;
    Ok(kb * 1024)
}
