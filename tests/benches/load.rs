//! Load benchmark of the whole path (issue 8): a private `redis-server`, the real
//! `telltale serve` binary as a child process, a publisher and SSE clients, all on this
//! machine.
//!
//!     cargo build --release -p telltale --bin telltale
//!     cargo bench -p telltale-tests --bench load -- [--quick] [--runs N] [--only LIST]
//!
//! `--only` takes a comma-separated subset of `whole,store,history,startup,idle`;
//! `--history-sizes 1000000,10000000` picks the history database sizes;
//! `TELLTALE_LOAD_BIN=PATH` runs a given `telltale` binary instead of
//! `target/release/telltale` (which must be newer than the sources);
//! `--scenario CLIENTS:RATE|max|flood:EVENTS` runs one whole-path scenario instead of the
//! matrix, and `TELLTALE_LOAD_WRAPPER="valgrind --tool=callgrind"` runs Telltale
//! under a profiler for it.
//!
//! Sections:
//! - whole: PUBLISH (200-byte job updates carrying a sequence number `n` and a send
//!   timestamp `t`, over 100 channels matched by one pattern) → Telltale's Redis
//!   source → normaliser → hub → SQLite → relay → `GET /events` clients that parse the
//!   `data:` lines and read `n`/`t` out of `raw`. Per run: published and delivered
//!   events/s, lost and duplicated events per client and in SQLite, latency from
//!   publish to the client's parse, Telltale's CPU seconds per million events and its
//!   peak RSS, the rows in SQLite at the end.
//! - store: append throughput of the hub alone (the path `hub_append` measures).
//! - history: one job's timeline, the last 100 failures and full-text searches over
//!   1M and 10M stored events (databases generated through `Writer`, cached under
//!   `target/load-bench/` because 10M takes minutes).
//! - startup: from spawning `telltale serve --db <10M db>` to `/api/health` answering.
//! - idle: RSS per idle SSE client (1,000 clients minus none, divided by 1,000).
//!
//! Everything shares the machine: the publisher and the clients run beside Telltale
//! and Redis on the same 2 cores, so the figures are what the whole box does, and the
//! output says so with the load average of each run.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hdrhistogram::Histogram;
use telltale_core::board::Board;
use telltale_core::hub::{Hub, HubOptions, Ingest};
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::store::{EventFilter, Reader, SearchIndex, Writer};
use telltale_tests::redis_server::{free_port, RedisServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The command that builds what this bench runs; said whenever the binary is missing
/// or stale, because a stale binary would measure code that no longer exists.
const BUILD_COMMAND: &str = "cargo build --release -p telltale --bin telltale";
const PAYLOAD_BYTES: usize = 200;
const CHANNELS: u64 = 100;
const PATTERN: &str = "bench:*";
const TOKEN: &str = "load-bench-token-0123456789abcdef";
/// Distinct jobs in the published stream (each job gets many updates).
const STREAM_JOBS: u64 = 10_000;

// ---------------------------------------------------------------------------------
// Options and the run matrix

struct Opts {
    quick: bool,
    runs: usize,
    only: Option<Vec<String>>,
    history_sizes: Vec<u64>,
    /// `--scenario CLIENTS:RATE|max|flood:EVENTS`, instead of the matrix (for profiling).
    scenario: Option<Scenario>,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut quick = false;
        let mut runs = None;
        let mut only = None;
        let mut sizes = None;
        let mut scenario = None;
        // Iterator adapter, not a skipped test: past the program's own name.
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => quick = true,
                "--runs" => runs = Some(args.next().context("--runs N")?.parse()?),
                "--only" => {
                    only = Some(
                        args.next()
                            .context("--only LIST")?
                            .split(',')
                            .map(str::to_string)
                            .collect(),
                    )
                }
                "--history-sizes" => {
                    sizes = Some(
                        args.next()
                            .context("--history-sizes LIST")?
                            .split(',')
                            .map(|s| s.trim().replace('_', "").parse::<u64>())
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                }
                "--scenario" => {
                    let v = args
                        .next()
                        .context("--scenario CLIENTS:RATE|max|flood:EVENTS")?;
                    let parts: Vec<&str> = v.split(':').collect();
                    anyhow::ensure!(parts.len() == 3, "--scenario CLIENTS:RATE|max|flood:EVENTS");
                    scenario = Some(Scenario {
                        clients: parts[0].parse()?,
                        pace: match parts[1] {
                            "max" => Pace::Sustained,
                            "flood" => Pace::Flood,
                            r => Pace::Fixed(r.parse()?),
                        },
                        events: parts[2].parse()?,
                    });
                }
                // cargo bench passes --bench to harness-less targets.
                "--bench" => {}
                other => {
                    anyhow::bail!("unknown argument {other:?} (see the top of benches/load.rs)")
                }
            }
        }
        Ok(Opts {
            quick,
            runs: runs.unwrap_or(if quick { 1 } else { 3 }),
            only,
            scenario,
            history_sizes: sizes.unwrap_or(if quick {
                vec![200_000]
            } else {
                vec![1_000_000, 10_000_000]
            }),
        })
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|l| l.iter().any(|s| s == section))
    }
}

/// How the publisher paces itself.
#[derive(Clone, Copy, PartialEq)]
enum Pace {
    /// A fixed rate, events per second.
    Fixed(u64),
    /// The maximum sustained rate: as fast as possible while at most
    /// [`SUSTAINED_WINDOW`] events are published but not yet delivered to the clients
    /// (closed loop), so what is measured is what the whole path keeps up with.
    Sustained,
    /// Open loop, as fast as Redis accepts: shows what happens to a subscriber that
    /// cannot keep up (Redis drops it once it is ~32 MB behind). Loss is expected.
    Flood,
}

/// Events in flight in a sustained run: ~7.5 MB of payloads, enough to cover the hub's
/// commit of a 10,000-event batch at 100k/s, and well below Redis's
/// 32 MB pub/sub limit and Telltale's own source queue.
const SUSTAINED_WINDOW: u64 = 30_000;

#[derive(Clone, Copy)]
struct Scenario {
    clients: usize,
    pace: Pace,
    events: u64,
}

impl Scenario {
    fn label(&self) -> String {
        match self.pace {
            Pace::Fixed(r) => format!("{} client(s), {} ev/s", self.clients, r),
            Pace::Sustained => format!("{} client(s), max sustained", self.clients),
            Pace::Flood => format!("{} client(s), flood (open loop)", self.clients),
        }
    }
}

/// Sized for 2 cores shared by Redis, Telltale, the publisher and the clients: 1,000
/// clients at 10k/s would be 10M deliveries/s, beyond what the box can parse, let
/// alone serve, so the fan-out is scaled down as the rate goes up.
fn matrix(quick: bool) -> Vec<Scenario> {
    let secs = if quick { 2 } else { 10 };
    let fixed = |clients, rate: u64| Scenario {
        clients,
        pace: Pace::Fixed(rate),
        events: rate * secs,
    };
    vec![
        fixed(1, 1_000),
        fixed(1, 10_000),
        fixed(1, 50_000),
        fixed(100, 1_000),
        fixed(100, 10_000),
        fixed(1_000, 1_000),
        Scenario {
            clients: 1,
            pace: Pace::Sustained,
            events: if quick { 100_000 } else { 1_000_000 },
        },
        Scenario {
            clients: 100,
            pace: Pace::Sustained,
            events: if quick { 20_000 } else { 200_000 },
        },
        Scenario {
            clients: 1,
            pace: Pace::Flood,
            events: if quick { 100_000 } else { 1_000_000 },
        },
    ]
}

// ---------------------------------------------------------------------------------
// Figures: every measured number, kept per run so the summary can give the median
// with min and max.

#[derive(Default)]
struct Figures {
    rows: Vec<(String, String, Vec<f64>)>,
}

impl Figures {
    fn record(&mut self, name: &str, unit: &str, v: f64) {
        match self.rows.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, _, vals)) => vals.push(v),
            None => self.rows.push((name.into(), unit.into(), vec![v])),
        }
    }

    fn print(&self) {
        println!();
        println!("| figure | unit | median | min | max | runs |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for (name, unit, vals) in &self.rows {
            let mut v = vals.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            println!(
                "| {name} | {unit} | {} | {} | {} | {} |",
                num(v[v.len() / 2]),
                num(v[0]),
                num(v[v.len() - 1]),
                v.len()
            );
        }
    }
}

/// Enough digits to read, not more.
fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        let mut s = format!("{:.0}", v);
        // Thousands separators: figures like 117537 are easier to compare as 117,537.
        let neg = s.starts_with('-');
        let digits: String = s.trim_start_matches('-').into();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        s = if neg { format!("-{out}") } else { out };
        s
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

// ---------------------------------------------------------------------------------
// The machine

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn load1() -> f64 {
    load_average()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM",
        mem as f64 / 1024.0 / 1024.0
    )
}

/// A `Vm*` line of /proc/<pid>/status, in KiB.
fn proc_status_kb(pid: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: &str, ticks_per_sec: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name may hold spaces; fields are counted after its closing ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ticks as f64 / ticks_per_sec
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// The telltale binary

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn newest_mtime(path: &Path, newest: &mut Option<(SystemTime, PathBuf)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                newest_mtime(&e.path(), newest);
            }
        }
    } else if path.file_name().is_some_and(|n| n == "tests.rs") {
        // `#[cfg(test)] mod tests;` files never reach the binary.
    } else if let Ok(m) = meta.modified() {
        if newest.as_ref().is_none_or(|(t, _)| m > *t) {
            *newest = Some((m, path.to_path_buf()));
        }
    }
}

/// The release binary, refusing one that is missing or older than the sources it is
/// built from. `TELLTALE_LOAD_BIN=PATH` benchmarks a given binary instead (a snapshot
/// copied aside while others keep editing the tree); it is named in the output.
fn telltale_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TELLTALE_LOAD_BIN") {
        let p = PathBuf::from(p);
        anyhow::ensure!(
            p.is_file(),
            "TELLTALE_LOAD_BIN={} is not a file",
            p.display()
        );
        println!(
            "   benchmarking {} (TELLTALE_LOAD_BIN: no staleness check)",
            p.display()
        );
        return Ok(p);
    }
    let bin = target_dir().join("release").join("telltale");
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .map_err(|_| {
            anyhow::anyhow!(
                "{} is missing: build it first with `{BUILD_COMMAND}`",
                bin.display()
            )
        })?;
    let root = workspace_root();
    let mut newest = None;
    for p in [
        "Cargo.toml",
        "src-tauri/app",
        "src-tauri/build.rs",
        "src-tauri/core/Cargo.toml",
        "src-tauri/core/src",
        "src-tauri/core/migrations",
    ] {
        newest_mtime(&root.join(p), &mut newest);
    }
    if let Some((t, path)) = newest {
        if t > built {
            anyhow::bail!(
                "{} is older than {}: rebuild it with `{BUILD_COMMAND}`",
                bin.display(),
                path.display()
            );
        }
    }
    Ok(bin)
}

/// A `telltale serve` child process.
struct Telltale {
    child: Child,
    pid: String,
    port: u16,
    log: PathBuf,
}

impl Telltale {
    /// Starts `telltale serve` with a config file of its own (retention off, so a
    /// generated history is not trimmed under the benchmark), none of the caller's
    /// TELLTALE_* variables, and the given sources (none: engine and relay only).
    fn spawn(bin: &Path, dir: &Path, db: &Path, sources: &[String]) -> anyhow::Result<Telltale> {
        let config = dir.join("telltale.toml");
        std::fs::write(
            &config,
            "[store]\nretention = { max_age = \"off\", max_size = \"off\" }\n",
        )?;
        let port = free_port();
        let log = dir.join(format!("telltale-{port}.log"));
        let out = std::fs::File::create(&log)?;
        // TELLTALE_LOAD_WRAPPER="valgrind --tool=callgrind ..." runs the child under a
        // profiler (its CPU and RSS figures are then the profiler's, not Telltale's).
        let wrapper = std::env::var("TELLTALE_LOAD_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut cmd = match words.next() {
            Some(w) => {
                let mut c = Command::new(w);
                c.args(words).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        for v in telltale_core::config::ENV_VARIABLES {
            cmd.env_remove(v);
        }
        cmd.env("TELLTALE_CONFIG", &config)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--token", TOKEN]);
        for s in sources {
            cmd.args(["--source", s]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(Telltale {
            pid: child.id().to_string(),
            child,
            port,
            log,
        })
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Polls `/api/health` until it answers 200; returns how long that took from now.
    fn wait_ready(&mut self, deadline: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                anyhow::bail!(
                    "telltale exited at start ({status}); log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok((200, _)) = http_get(self.port, &format!("/api/health?token={TOKEN}")) {
                return Ok(started.elapsed());
            }
            if started.elapsed() > deadline {
                anyhow::bail!(
                    "telltale's /api/health did not answer within {deadline:?}; log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn status_kb(&self, key: &str) -> u64 {
        proc_status_kb(&self.pid, key).unwrap_or(0)
    }

    /// SIGTERM, so it commits what it holds and checkpoints; SIGKILL after a deadline.
    fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid]).status();
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!(
                        "  (telltale exited with {status}; log:\n{})",
                        self.log_tail()
                    );
                }
                return Ok(());
            }
            if Instant::now() > give_up {
                let _ = self.child.kill();
                let _ = self.child.wait();
                anyhow::bail!("telltale did not stop within 60 s of SIGTERM; killed");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Telltale {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One blocking HTTP/1.1 GET on loopback; (status, body).
fn http_get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = StdTcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .context("no HTTP status")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

// ---------------------------------------------------------------------------------
// Redis: the publisher speaks RESP on a raw socket, so what it costs is writing bytes,
// not a client library's bookkeeping (it shares the 2 cores with what it measures).

fn resp_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for a in args {
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `PUBSUB NUMPAT`: how many pattern subscriptions the server has (Telltale's one).
fn redis_numpat(port: u16) -> anyhow::Result<i64> {
    let mut s = StdTcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut cmd = Vec::new();
    resp_command(&mut cmd, &[b"PUBSUB", b"NUMPAT"]);
    s.write_all(&cmd)?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.trim()
        .strip_prefix(':')
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unexpected PUBSUB NUMPAT reply {line:?}"))
}

/// One job update of exactly 200 bytes; `n` and `t` come last so a client finds them
/// at the end of the relay's line without scanning all of it.
fn stream_payload(out: &mut Vec<u8>, n: u64, t_us: u64) {
    let head = format!(
        "{{\"jobId\":\"job-{}\",\"status\":\"running\",\"progress\":{},\"stage\":\"parsing\",\"message\":\"Parsing resume content\",\"pad\":\"",
        n % STREAM_JOBS,
        n % 100
    );
    let tail = format!("\",\"n\":{n},\"t\":{t_us}}}");
    let pad = PAYLOAD_BYTES.saturating_sub(head.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(tail.as_bytes());
}

struct Published {
    sent: u64,
    started: Instant,
    finished: Instant,
    /// PUBLISH replies of 0: no subscriber got the message (Telltale not subscribed).
    unreceived: u64,
}

/// Publishes `total` events paced by `pace`, pipelined; a second thread reads the
/// replies so Redis never blocks on an unread reply buffer. `delivered` counts
/// deliveries to all `clients` (the closed loop of [`Pace::Sustained`]).
fn publish(
    port: u16,
    pace: Pace,
    total: u64,
    delivered: &AtomicU64,
    clients: u64,
) -> anyhow::Result<Published> {
    let mut w = StdTcpStream::connect(("127.0.0.1", port))?;
    w.set_nodelay(true)?;
    let r = w.try_clone()?;
    let replies = std::thread::spawn(move || -> anyhow::Result<u64> {
        let mut r = BufReader::with_capacity(256 * 1024, r);
        let mut line = String::new();
        let mut unreceived = 0;
        for _ in 0..total {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                anyhow::bail!("redis closed the publisher's connection");
            }
            match line.trim_end().strip_prefix(':') {
                Some("0") => unreceived += 1,
                Some(_) => {}
                None => anyhow::bail!("PUBLISH failed: {line:?}"),
            }
        }
        Ok(unreceived)
    });
    // At most this many commands per write: big enough for the maximum rate, small
    // enough that the first event of a write is not held back for long.
    const PIPELINE: u64 = 256;
    let channels: Vec<Vec<u8>> = (0..CHANNELS)
        .map(|c| format!("bench:ch{c}").into_bytes())
        .collect();
    let mut buf = Vec::with_capacity(PIPELINE as usize * 260);
    let mut payload = Vec::with_capacity(PAYLOAD_BYTES);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = match pace {
            Pace::Fixed(r) => {
                let due = (started.elapsed().as_secs_f64() * r as f64) as u64 + 1;
                due.min(total)
            }
            // The slowest possible reading of "delivered": the average per client.
            Pace::Sustained => {
                (delivered.load(Ordering::Relaxed) / clients.max(1) + SUSTAINED_WINDOW).min(total)
            }
            Pace::Flood => total,
        };
        if due <= sent {
            // Sleep to the next event's time; the timestamp is taken when it is
            // written, so pacing jitter never shows up as latency.
            let wait = match pace {
                Pace::Fixed(r) => Duration::from_secs_f64(sent as f64 / r as f64)
                    .saturating_sub(started.elapsed()),
                _ => Duration::ZERO,
            };
            std::thread::sleep(wait.max(Duration::from_micros(50)));
            continue;
        }
        let batch = (due - sent).min(PIPELINE);
        buf.clear();
        let t = now_us();
        for n in sent..sent + batch {
            payload.clear();
            stream_payload(&mut payload, n, t);
            resp_command(
                &mut buf,
                &[b"PUBLISH", &channels[(n % CHANNELS) as usize], &payload],
            );
        }
        w.write_all(&buf)?;
        sent += batch;
    }
    let finished = Instant::now();
    let unreceived = replies
        .join()
        .map_err(|_| anyhow::anyhow!("reply reader panicked"))??;
    Ok(Published {
        sent,
        started,
        finished,
        unreceived,
    })
}

// ---------------------------------------------------------------------------------
// SSE clients: raw TCP, HTTP/1.1 with chunked decoding, `data:` lines only.

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn digits_at(s: &[u8]) -> Option<u64> {
    let end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    std::str::from_utf8(&s[..end]).ok()?.parse().ok()
}

/// `n` and `t` from an event line: inside `raw` (a JSON string) the payload's quotes
/// are escaped, so `\"n\":` can only come from the payload.
fn n_and_t(data: &[u8]) -> Option<(u64, u64)> {
    let tail = &data[data.len().saturating_sub(96)..];
    let get = |key: &[u8]| {
        rfind(tail, key)
            .map(|i| &tail[i + key.len()..])
            .or_else(|| rfind(data, key).map(|i| &data[i + key.len()..]))
            .and_then(digits_at)
    };
    Some((get(br#"\"n\":"#)?, get(br#"\"t\":"#)?))
}

/// Incremental reader of one SSE response.
#[derive(Default)]
struct SseParser {
    raw: Vec<u8>,
    body: Vec<u8>,
    head_done: bool,
    chunked: bool,
    chunk_left: usize,
    /// The relay's opening block (`retry:`) arrived: the subscription exists.
    opened: bool,
    ended: bool,
}

impl SseParser {
    fn feed(&mut self, bytes: &[u8], mut on_data: impl FnMut(&[u8])) -> anyhow::Result<()> {
        self.raw.extend_from_slice(bytes);
        let mut pos = 0;
        if !self.head_done {
            let Some(end) = find(&self.raw, b"\r\n\r\n") else {
                return Ok(());
            };
            let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                anyhow::bail!("relay answered {:?}", head.lines().next().unwrap_or(""));
            }
            self.chunked = head.contains("transfer-encoding: chunked");
            self.head_done = true;
            pos = end + 4;
        }
        if !self.chunked {
            self.body.extend_from_slice(&self.raw[pos..]);
            pos = self.raw.len();
        }
        while self.chunked {
            if self.chunk_left > 0 {
                let n = self.chunk_left.min(self.raw.len() - pos);
                if n == 0 {
                    break;
                }
                self.body.extend_from_slice(&self.raw[pos..pos + n]);
                pos += n;
                self.chunk_left -= n;
                continue;
            }
            let Some(rel) = find(&self.raw[pos..], b"\r\n") else {
                break;
            };
            let line = &self.raw[pos..pos + rel];
            pos += rel + 2;
            if line.is_empty() {
                continue; // the CRLF after a chunk's data
            }
            let hex = std::str::from_utf8(line)?.split(';').next().unwrap_or("");
            let size = usize::from_str_radix(hex.trim(), 16)
                .with_context(|| format!("bad chunk size {hex:?}"))?;
            if size == 0 {
                self.ended = true;
                break;
            }
            self.chunk_left = size;
        }
        self.raw.drain(..pos);
        let mut start = 0;
        while let Some(rel) = self.body[start..].iter().position(|&b| b == b'\n') {
            let line = &self.body[start..start + rel];
            if let Some(d) = line.strip_prefix(b"data: ") {
                on_data(d);
            } else if line.starts_with(b"retry:") {
                self.opened = true;
            }
            start += rel + 1;
        }
        self.body.drain(..start);
        Ok(())
    }
}

/// What all clients of a run share.
struct ClientsShared {
    opened: AtomicUsize,
    delivered: AtomicU64,
    latency_us: Mutex<Histogram<u64>>,
}

struct ClientOutcome {
    distinct: u64,
    dups: u64,
    last: Option<Instant>,
    error: Option<String>,
}

async fn open_sse(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpStream> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "GET /events?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    Ok(s)
}

async fn sse_client(
    addr: SocketAddr,
    expected: u64,
    shared: Arc<ClientsShared>,
    cancel: CancellationToken,
) -> ClientOutcome {
    let mut seen = vec![0u64; expected.div_ceil(64) as usize];
    let mut out = ClientOutcome {
        distinct: 0,
        dups: 0,
        last: None,
        error: None,
    };
    let result: anyhow::Result<()> = async {
        let mut s = open_sse(addr).await?;
        let mut p = SseParser::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut lat = Vec::with_capacity(1024);
        let mut announced = false;
        loop {
            let n = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = s.read(&mut buf) => r?,
            };
            if n == 0 {
                anyhow::bail!("the relay closed the stream");
            }
            let mut got = 0u64;
            p.feed(&buf[..n], |d| {
                let Some((n, t)) = n_and_t(d) else { return };
                let now = now_us();
                lat.push(now.saturating_sub(t));
                got += 1;
                let (w, b) = ((n / 64) as usize, n % 64);
                match seen.get_mut(w) {
                    Some(word) if *word & (1 << b) != 0 => out.dups += 1,
                    Some(word) => {
                        *word |= 1 << b;
                        out.distinct += 1;
                    }
                    None => out.dups += 1, // an n never published: count it as wrong
                }
            })?;
            if p.opened && !announced {
                announced = true;
                shared.opened.fetch_add(1, Ordering::Relaxed);
            }
            if got > 0 {
                out.last = Some(Instant::now());
                shared.delivered.fetch_add(got, Ordering::Relaxed);
                let mut h = shared.latency_us.lock().unwrap_or_else(|e| e.into_inner());
                for v in lat.drain(..) {
                    let _ = h.record(v.max(1));
                }
            }
            if p.ended {
                anyhow::bail!("the relay ended the stream");
            }
        }
    }
    .await;
    if let Err(e) = result {
        out.error = Some(e.to_string());
    }
    out
}

// ---------------------------------------------------------------------------------
// Whole path

struct WholeRun {
    published: u64,
    publish_rate: f64,
    unreceived: u64,
    delivered_rate_median: f64,
    delivered_rate_min: f64,
    lost_max: u64,
    lost_total: u64,
    dup_total: u64,
    client_errors: usize,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    cpu_per_m: f64,
    peak_rss_mb: f64,
    db_rows: u64,
    db_lost: u64,
    db_dup: u64,
    db_gaps: u64,
    load1: f64,
    bench_cpu_s: f64,
}

fn run_whole(
    rt: &tokio::runtime::Runtime,
    bin: &Path,
    sc: Scenario,
    ticks: f64,
) -> anyhow::Result<WholeRun> {
    let load1 = load1();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("telltale.db");
    let source = format!("redis://127.0.0.1:{}/0?pattern={PATTERN}", redis.port());
    let mut tt = Telltale::spawn(bin, dir.path(), &db, &[source])?;
    tt.wait_ready(Duration::from_secs(30))?;
    let give_up = Instant::now() + Duration::from_secs(30);
    while redis_numpat(redis.port())? < 1 {
        anyhow::ensure!(
            Instant::now() < give_up,
            "telltale did not subscribe to {PATTERN} within 30 s; log:\n{}",
            tt.log_tail()
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let shared = Arc::new(ClientsShared {
        opened: AtomicUsize::new(0),
        delivered: AtomicU64::new(0),
        latency_us: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
    });
    let cancel = CancellationToken::new();
    let addr = tt.addr();
    let handles: Vec<_> = (0..sc.clients)
        .map(|_| rt.spawn(sse_client(addr, sc.events, shared.clone(), cancel.clone())))
        .collect();
    let give_up = Instant::now() + Duration::from_secs(60);
    while shared.opened.load(Ordering::Relaxed) < sc.clients {
        if Instant::now() > give_up {
            cancel.cancel();
            anyhow::bail!(
                "only {} of {} SSE clients connected within 60 s",
                shared.opened.load(Ordering::Relaxed),
                sc.clients
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let cpu0 = cpu_seconds(&tt.pid, ticks);
    let bench_cpu0 = cpu_seconds("self", ticks);
    let published = publish(
        redis.port(),
        sc.pace,
        sc.events,
        &shared.delivered,
        sc.clients as u64,
    )?;
    // Drain: wait until every client has every event, or until delivery stalls.
    let want = published.sent * sc.clients as u64;
    let mut last_progress = (shared.delivered.load(Ordering::Relaxed), Instant::now());
    let stall = Duration::from_secs(10);
    loop {
        let d = shared.delivered.load(Ordering::Relaxed);
        if d >= want {
            break;
        }
        if d != last_progress.0 {
            last_progress = (d, Instant::now());
        } else if last_progress.1.elapsed() > stall {
            eprintln!("  delivery stalled at {d} of {want} deliveries");
            break;
        }
        if published.finished.elapsed() > Duration::from_secs(300) {
            eprintln!("  gave up draining after 300 s at {d} of {want} deliveries");
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let cpu1 = cpu_seconds(&tt.pid, ticks);
    let bench_cpu1 = cpu_seconds("self", ticks);
    let peak_rss_kb = tt.status_kb("VmHWM");
    cancel.cancel();
    let outcomes: Vec<ClientOutcome> = rt.block_on(async {
        let mut v = Vec::with_capacity(handles.len());
        for h in handles {
            v.push(h.await.expect("client task"));
        }
        v
    });
    tt.stop()?;

    let (db_rows, db_lost, db_dup, db_gaps) = check_db(&db, published.sent)?;
    let hist = shared.latency_us.lock().unwrap_or_else(|e| e.into_inner());
    let mut rates: Vec<f64> = outcomes
        .iter()
        .map(|o| match o.last {
            Some(l) => o.distinct as f64 / l.duration_since(published.started).as_secs_f64(),
            None => 0.0,
        })
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let lost: Vec<u64> = outcomes
        .iter()
        .map(|o| published.sent.saturating_sub(o.distinct))
        .collect();
    let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    if let Some(e) = errors.first() {
        eprintln!("  {} client(s) failed, first: {e}", errors.len());
    }
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    Ok(WholeRun {
        published: published.sent,
        publish_rate: published.sent as f64
            / published
                .finished
                .duration_since(published.started)
                .as_secs_f64(),
        unreceived: published.unreceived,
        delivered_rate_median: rates[rates.len() / 2],
        delivered_rate_min: rates[0],
        lost_max: lost.iter().copied().max().unwrap_or(0),
        lost_total: lost.iter().sum(),
        dup_total: outcomes.iter().map(|o| o.dups).sum(),
        client_errors: errors.len(),
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        cpu_per_m: (cpu1 - cpu0) / (published.sent as f64 / 1e6),
        peak_rss_mb: peak_rss_kb as f64 / 1024.0,
        db_rows,
        db_lost,
        db_dup,
        db_gaps,
        load1,
        bench_cpu_s: bench_cpu1 - bench_cpu0,
    })
}

/// (rows, published events missing, published events stored more than once, gap
/// notices) in the database Telltale wrote.
fn check_db(db: &Path, published: u64) -> anyhow::Result<(u64, u64, u64, u64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    let gaps: i64 = conn.query_row(
        "SELECT COUNT(*) FROM events WHERE status = 'gap'",
        [],
        |r| r.get(0),
    )?;
    let mut seen = vec![false; published as usize];
    let mut dup = 0u64;
    let mut st = conn.prepare("SELECT raw FROM events WHERE kind = 'job'")?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let raw: String = r.get(0)?;
        let Some(i) = raw.rfind("\"n\":") else {
            continue;
        };
        let Some(n) = digits_at(&raw.as_bytes()[i + 4..]) else {
            continue;
        };
        match seen.get_mut(n as usize) {
            Some(s) if *s => dup += 1,
            Some(s) => *s = true,
            None => dup += 1,
        }
    }
    let lost = seen.iter().filter(|s| !**s).count() as u64;
    Ok((rows as u64, lost, dup, gaps as u64))
}

fn section_whole(opts: &Opts, figs: &mut Figures, bin: &Path, ticks: f64) -> anyhow::Result<()> {
    println!(
        "\n== Whole path: redis PUBLISH -> telltale serve -> SQLite -> relay -> SSE clients =="
    );
    println!(
        "   {PAYLOAD_BYTES}-byte payloads on {CHANNELS} channels, one pattern ({PATTERN}); the publisher \
         and the clients share this machine's cores with Telltale and Redis."
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for run in 1..=opts.runs {
        println!("-- run {run} of {}", opts.runs);
        let scenarios = match opts.scenario {
            Some(sc) => vec![sc],
            None => matrix(opts.quick),
        };
        for sc in scenarios {
            let r = match run_whole(&rt, bin, sc, ticks) {
                Ok(r) => r,
                Err(e) => {
                    println!("   {:<28} FAILED: {e:#}", sc.label());
                    continue;
                }
            };
            println!(
                "   {:<28} load {:.2} | published {} at {} ev/s{} | delivered/client median {} ev/s (min {}) | \
                 lost/client max {} (sum {}), dup {}{} | latency p50 {} ms p99 {} ms p99.9 {} ms max {} ms | \
                 telltale {} CPU-s/M events, peak RSS {} MB | SQLite {} rows, lost {}, dup {}, gaps {} | bench CPU {} s",
                sc.label(),
                r.load1,
                r.published,
                num(r.publish_rate),
                if r.unreceived > 0 { format!(" ({} reached no subscriber)", r.unreceived) } else { String::new() },
                num(r.delivered_rate_median),
                num(r.delivered_rate_min),
                r.lost_max,
                r.lost_total,
                r.dup_total,
                if r.client_errors > 0 { format!(", {} client errors", r.client_errors) } else { String::new() },
                num(r.p50_ms),
                num(r.p99_ms),
                num(r.p999_ms),
                num(r.max_ms),
                num(r.cpu_per_m),
                num(r.peak_rss_mb),
                r.db_rows,
                r.db_lost,
                r.db_dup,
                r.db_gaps,
                num(r.bench_cpu_s),
            );
            let l = sc.label();
            figs.record(&format!("{l}: published"), "ev/s", r.publish_rate);
            figs.record(
                &format!("{l}: delivered per client (median client)"),
                "ev/s",
                r.delivered_rate_median,
            );
            figs.record(
                &format!("{l}: delivered per client (slowest client)"),
                "ev/s",
                r.delivered_rate_min,
            );
            figs.record(
                &format!("{l}: lost, worst client"),
                "events",
                r.lost_max as f64,
            );
            figs.record(
                &format!("{l}: duplicated, all clients"),
                "events",
                r.dup_total as f64,
            );
            figs.record(&format!("{l}: lost in SQLite"), "events", r.db_lost as f64);
            figs.record(
                &format!("{l}: duplicated in SQLite"),
                "events",
                r.db_dup as f64,
            );
            figs.record(&format!("{l}: latency p50"), "ms", r.p50_ms);
            figs.record(&format!("{l}: latency p99"), "ms", r.p99_ms);
            figs.record(&format!("{l}: latency p99.9"), "ms", r.p999_ms);
            figs.record(
                &format!("{l}: telltale CPU"),
                "s per 1M events",
                r.cpu_per_m,
            );
            figs.record(&format!("{l}: telltale peak RSS"), "MB", r.peak_rss_mb);
            figs.record(&format!("{l}: rows in SQLite"), "rows", r.db_rows as f64);
            figs.record(&format!("{l}: load average (1 min) at start"), "", r.load1);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Store alone: the hub path, as hub_append measures it.

fn store_event(n: u64) -> Event {
    let mut raw = Vec::with_capacity(PAYLOAD_BYTES);
    stream_payload(&mut raw, n, 0);
    let mut e = Event::new(
        "bench",
        EntityKind::Job,
        format!("job-{}", n % STREAM_JOBS),
        Status::Running,
    );
    e.progress = Some((n % 100) as f64);
    e.stage = Some("parsing".into());
    e.message = Some("Parsing resume content".into());
    e.channel = Some(format!("bench:ch{}", n % CHANNELS));
    e.raw = String::from_utf8(raw).expect("ASCII payload");
    e
}

fn section_store(opts: &Opts, figs: &mut Figures) -> anyhow::Result<()> {
    let events: u64 = if opts.quick { 100_000 } else { 500_000 };
    const BATCH: u64 = 500;
    println!(
        "\n== Store alone: {events} events through the hub into SQLite, batches of {BATCH} =="
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for run in 1..=opts.runs {
        let dir = tempfile::tempdir()?;
        let hub = Hub::start(HubOptions::new(dir.path().join("store.db")))?;
        let tx = hub.sender();
        let batches: Vec<Vec<Event>> = (0..events / BATCH)
            .map(|b| (b * BATCH..(b + 1) * BATCH).map(store_event).collect())
            .collect();
        let load = load1();
        let started = Instant::now();
        rt.block_on(async {
            for b in batches {
                tx.send(Ingest::new("bench", b)).await?;
            }
            tx.flush().await
        })?;
        let rate = events as f64 / started.elapsed().as_secs_f64();
        anyhow::ensure!(
            hub.health().stored == events,
            "the hub stored {} of {events}",
            hub.health().stored
        );
        hub.shutdown();
        println!("   run {run}: {} events/s (load {load:.2})", num(rate));
        figs.record("store alone: append throughput", "events/s", rate);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// History at 1M and 10M events

/// Jobs in a generated history: 10 events per job at 1M, 100 at 10M.
const HISTORY_JOBS: u64 = 100_000;
/// Bump when the generated data changes, so cached databases are rebuilt.
/// 2: the search index moved to its own file (migration 0004).
const HISTORY_VERSION: &str = "2";
const STAGES: [&str; 5] = [
    "Parsing resume content",
    "Uploading report to storage",
    "Sending confirmation email",
    "Resizing product images",
    "Charging the customer's card",
];

fn history_event(n: u64, total: u64, base_ms: i64, span_ms: i64) -> Event {
    let job = n % HISTORY_JOBS;
    let (status, word) = match n % 100 {
        0 => (Status::Failed, "failed"),
        1..=5 => (Status::Completed, "completed"),
        6..=8 => (Status::Queued, "queued"),
        _ => (Status::Running, "running"),
    };
    let stage = STAGES[(n / HISTORY_JOBS % 5) as usize];
    let mut e = Event::new(
        "orders",
        EntityKind::Job,
        format!("job-{job}"),
        status.clone(),
    );
    e.received_at = base_ms + (n as i64 * span_ms) / total as i64;
    e.progress = Some((n % 100) as f64);
    e.stage = Some(stage.into());
    e.message = Some(stage.into());
    e.channel = Some(format!("orders:ch{}", n % CHANNELS));
    let mut raw = format!(
        "{{\"jobId\":\"job-{job}\",\"status\":\"{word}\",\"progress\":{},\"message\":\"{stage}\"",
        n % 100
    );
    if status == Status::Failed {
        let err = "ECONNRESET: upstream closed the connection while uploading the report";
        e.error = Some(err.into());
        let _ = write!(raw, ",\"error\":\"{err}\"");
    }
    raw.push_str(",\"pad\":\"");
    while raw.len() < PAYLOAD_BYTES - 2 {
        raw.push('x');
    }
    raw.push_str("\"}");
    e.raw = raw;
    e
}

/// A database of `total` events written through the store's `Writer` in large
/// transactions, with the entity table current and the search index complete, as a
/// long-running install would have it. Cached: generating 10M takes minutes.
fn history_db(total: u64) -> anyhow::Result<PathBuf> {
    let dir = target_dir().join("load-bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("history-{total}.db"));
    let done = dir.join(format!("history-{total}.done"));
    let cached = std::fs::read_to_string(&done).ok();
    if cached.as_deref() == Some(HISTORY_VERSION) && path.exists() {
        println!("   reusing {} ({total} events)", path.display());
        return Ok(path);
    }
    if cached.as_deref() == Some("1") && path.exists() {
        // Same events; only the search index moved. Upgrading is the path a user's
        // database takes, and is faster than generating again.
        println!(
            "   upgrading {} ({total} events) to the current schema ...",
            path.display()
        );
        let started = Instant::now();
        let writer = Writer::open(&path)?;
        writer.checkpoint()?;
        drop(writer);
        println!("     migrated ({:.0} s)", started.elapsed().as_secs_f64());
        build_search_index(&path, started)?;
        std::fs::write(&done, HISTORY_VERSION)?;
        return Ok(path);
    }
    for ext in ["", "-wal", "-shm", "-search", "-search-wal", "-search-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let _ = std::fs::remove_file(&done);
    println!("   generating {} ({total} events) ...", path.display());
    let started = Instant::now();
    let mut writer = Writer::open(&path)?;
    let mut board = Board::default();
    const BATCH: u64 = 50_000;
    // Three weeks of history ending an hour ago.
    let span_ms: i64 = 21 * 24 * 3600 * 1000;
    let base_ms = telltale_core::model::now_millis() - span_ms - 3600 * 1000;
    let mut n = 0;
    while n < total {
        let end = (n + BATCH).min(total);
        let events: Vec<Event> = (n..end)
            .map(|i| history_event(i, total, base_ms, span_ms))
            .collect();
        let mut batch = [Ingest::new("orders", events)];
        writer.append(&mut batch)?;
        for e in &batch[0].events {
            board.apply(e);
        }
        n = end;
        if n.is_multiple_of(1_000_000) || n == total {
            println!(
                "     {n} events appended ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    writer.write_entities(board.iter(), writer.next_seq() - 1)?;
    writer.checkpoint()?;
    build_search_index(&path, started)?;
    drop(writer);
    std::fs::write(&done, HISTORY_VERSION)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "   generated in {:.0} s, {:.2} GB",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e9
    );
    Ok(path)
}

/// Indexes every stored event for search, as the search thread would.
fn build_search_index(db: &Path, started: Instant) -> anyhow::Result<()> {
    let mut index = SearchIndex::open(db)?;
    while index.index(1_000_000)? > 0 {
        println!(
            "     search index at {} ({:.0} s)",
            index.indexed_upto(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A tiny deterministic generator for picking jobs (repeatable across runs).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// (p50, p99) in ms of `reps` calls of `f`.
fn time_query(
    reps: usize,
    mut f: impl FnMut(usize) -> anyhow::Result<usize>,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::with_capacity(reps);
    let mut rows = 0;
    for i in 0..reps {
        let t = Instant::now();
        rows = f(i)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok((p(0.5), p(0.99), rows))
}

fn section_history(opts: &Opts, figs: &mut Figures) -> anyhow::Result<Option<PathBuf>> {
    println!(
        "\n== History queries (store Reader, one connection, as the relay's endpoints use it) =="
    );
    let mut largest = None;
    for &size in &opts.history_sizes {
        let path = history_db(size)?;
        largest = Some(path.clone());
        let label = if size.is_multiple_of(1_000_000) {
            format!("{}M", size / 1_000_000)
        } else {
            format!("{}k", size / 1000)
        };
        for run in 1..=opts.runs {
            let load = load1();
            let first_open = Instant::now();
            let reader = Reader::open(&path)?;
            let open_ms = first_open.elapsed().as_secs_f64() * 1000.0;
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 + run as u64);
            let (tl50, tl99, tl_rows) = time_query(1000, |_| {
                let job = format!("job-{}", rng.below(HISTORY_JOBS));
                Ok(reader.timeline(Some(EntityKind::Job), &job, 10_000)?.len())
            })?;
            let (f50, f99, f_rows) = time_query(500, |_| Ok(reader.recent_failures(100)?.len()))?;
            let filter = EventFilter::default();
            let (s1_50, s1_99, s1_rows) =
                time_query(20, |_| Ok(reader.search("ECONNRESET", &filter, 100)?.len()))?;
            let (s2_50, s2_99, s2_rows) = time_query(20, |_| {
                let q = format!("job-{}", rng.below(HISTORY_JOBS));
                Ok(reader.search(&q, &filter, 100)?.len())
            })?;
            let (s3_50, s3_99, s3_rows) = time_query(20, |_| {
                Ok(reader.search("checkout-7f3a9", &filter, 100)?.len())
            })?;
            println!(
                "   {label} run {run} (load {load:.2}, open {open_ms:.1} ms): timeline p50 {} p99 {} ms ({tl_rows} events) | \
                 last 100 failures p50 {} p99 {} ms ({f_rows}) | search \"ECONNRESET\" p50 {} p99 {} ms ({s1_rows}) | \
                 search \"job-N\" p50 {} p99 {} ms ({s2_rows}) | search (no match) p50 {} p99 {} ms ({s3_rows})",
                num(tl50), num(tl99), num(f50), num(f99), num(s1_50), num(s1_99), num(s2_50), num(s2_99), num(s3_50), num(s3_99)
            );
            figs.record(
                &format!("history {label}: one job's timeline p50"),
                "ms",
                tl50,
            );
            figs.record(
                &format!("history {label}: one job's timeline p99"),
                "ms",
                tl99,
            );
            figs.record(
                &format!("history {label}: last 100 failures p50"),
                "ms",
                f50,
            );
            figs.record(
                &format!("history {label}: last 100 failures p99"),
                "ms",
                f99,
            );
            figs.record(
                &format!("history {label}: search \"ECONNRESET\" (100 newest of 1%) p50"),
                "ms",
                s1_50,
            );
            figs.record(
                &format!("history {label}: search \"ECONNRESET\" p99"),
                "ms",
                s1_99,
            );
            figs.record(
                &format!("history {label}: search a job id \"job-N\" p50"),
                "ms",
                s2_50,
            );
            figs.record(
                &format!("history {label}: search a job id p99"),
                "ms",
                s2_99,
            );
            figs.record(
                &format!("history {label}: search with no match p50"),
                "ms",
                s3_50,
            );
            figs.record(
                &format!("history {label}: search with no match p99"),
                "ms",
                s3_99,
            );
        }
    }
    Ok(largest)
}

// ---------------------------------------------------------------------------------
// Start-up and idle clients

fn section_startup(opts: &Opts, figs: &mut Figures, bin: &Path, db: &Path) -> anyhow::Result<()> {
    let rows = Reader::open(db)?.max_seq()?;
    println!("\n== Start-up: spawn `telltale serve --db {}` ({rows} events) until /api/health answers ==", db.display());
    for run in 1..=opts.runs {
        let dir = tempfile::tempdir()?;
        let load = load1();
        let mut tt = Telltale::spawn(bin, dir.path(), db, &[])?;
        let took = tt.wait_ready(Duration::from_secs(120))?;
        let rss = tt.status_kb("VmRSS") as f64 / 1024.0;
        tt.stop()?;
        println!(
            "   run {run}: {} ms (load {load:.2}), RSS after start {} MB",
            num(took.as_secs_f64() * 1000.0),
            num(rss)
        );
        figs.record(
            "start-up with the largest history",
            "ms",
            took.as_secs_f64() * 1000.0,
        );
        figs.record(
            "RSS right after start-up with the largest history",
            "MB",
            rss,
        );
    }
    Ok(())
}

fn section_idle(opts: &Opts, figs: &mut Figures, bin: &Path) -> anyhow::Result<()> {
    const CLIENTS: usize = 1_000;
    println!(
        "\n== Idle SSE clients: RSS with {CLIENTS} connected idle clients minus RSS with none =="
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for run in 1..=opts.runs {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("idle.db");
        let mut tt = Telltale::spawn(bin, dir.path(), &db, &[])?;
        tt.wait_ready(Duration::from_secs(30))?;
        // One client first and gone: whatever the first connection allocates once
        // (thread-local caches, the router) is not a per-client cost.
        let addr = tt.addr();
        rt.block_on(hold_clients(addr, 1))?;
        std::thread::sleep(Duration::from_secs(1));
        let before = tt.status_kb("VmRSS");
        let held = rt.block_on(hold_clients(addr, CLIENTS))?;
        std::thread::sleep(Duration::from_secs(2));
        let after = tt.status_kb("VmRSS");
        let per = (after as f64 - before as f64) * 1024.0 / CLIENTS as f64;
        drop(held);
        tt.stop()?;
        println!(
            "   run {run}: {} KiB -> {} KiB, {} KiB per client (load {:.2})",
            before,
            after,
            num(per / 1024.0),
            load1()
        );
        figs.record(
            "idle RSS per SSE client (1,000 clients)",
            "KiB",
            per / 1024.0,
        );
        figs.record("RSS with no client", "MB", before as f64 / 1024.0);
    }
    Ok(())
}

/// Opens `n` SSE streams and waits until each has its opening block; returns them.
async fn hold_clients(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<tokio::net::TcpStream>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        set.spawn(async move {
            let mut s = open_sse(addr).await?;
            let mut p = SseParser::default();
            let mut buf = vec![0u8; 4096];
            while !p.opened {
                let k = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await??;
                anyhow::ensure!(k > 0, "the relay closed an idle stream");
                p.feed(&buf[..k], |_| {})?;
            }
            Ok::<_, anyhow::Error>(s)
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r??);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------

fn main() {
    // Errors are printed plainly: a stale binary is an instruction, not a crash.
    if let Err(e) = run() {
        eprintln!("load bench: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let opts = Opts::parse()?;
    let ticks = clock_ticks();
    println!(
        "load bench{}: {}; load average {}; runs {}",
        if opts.quick { " (--quick)" } else { "" },
        machine(),
        load_average(),
        opts.runs
    );
    println!("   Redis, telltale serve, the publisher and the SSE clients all share this machine.");
    let needs_binary = ["whole", "startup", "idle"].iter().any(|s| opts.wants(s));
    let bin = if needs_binary {
        Some(telltale_binary()?)
    } else {
        None
    };
    let mut figs = Figures::default();
    let mut failed = HashSet::new();
    if let (true, Some(bin)) = (opts.wants("whole"), &bin) {
        if let Err(e) = section_whole(&opts, &mut figs, bin, ticks) {
            println!("   whole path FAILED: {e:#}");
            failed.insert("whole");
        }
    }
    if opts.wants("store") {
        if let Err(e) = section_store(&opts, &mut figs) {
            println!("   store FAILED: {e:#}");
            failed.insert("store");
        }
    }
    let mut largest = None;
    if opts.wants("history") || opts.wants("startup") {
        match section_history(&opts, &mut figs) {
            Ok(p) => largest = p,
            Err(e) => {
                println!("   history FAILED: {e:#}");
                failed.insert("history");
            }
        }
    }
    if let (true, Some(bin), Some(db)) = (opts.wants("startup"), &bin, &largest) {
        if let Err(e) = section_startup(&opts, &mut figs, bin, db) {
            println!("   start-up FAILED: {e:#}");
            failed.insert("startup");
        }
    }
    if let (true, Some(bin)) = (opts.wants("idle"), &bin) {
        if let Err(e) = section_idle(&opts, &mut figs, bin) {
            println!("   idle FAILED: {e:#}");
            failed.insert("idle");
        }
    }
    println!(
        "\nSummary: median of {} run(s) with min and max; load average now {}",
        opts.runs,
        load_average()
    );
    figs.print();
    if !failed.is_empty() {
        anyhow::bail!("sections failed: {failed:?}");
    }
    Ok(())
}
