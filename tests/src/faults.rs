//! Harness for the fault suite (issue 9): the real `telltale` program run as a child
//! process, numbered SSE feeds that honour `Last-Event-ID` and record what they sent,
//! and memory readings from `/proc`.
//!
//! Every wait here takes a deadline; nothing blocks forever.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::sse_server::Conn;

/// A fixed relay token for the child processes (the tests must know it).
pub const SERVE_TOKEN: &str = "faults-test-token-0123456789abcdef";

/// Building the desktop program from scratch on two shared cores takes minutes.
const BUILD_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The real `telltale` program (the root package's binary, the one users run), from
/// the target directory this test binary was built into.
///
/// `cargo test` builds only the binaries of the packages under test, and this one
/// belongs to the root package, so it may be missing or older than the code the tests
/// were built from. Then it is built here, with the same profile; cargo does nothing
/// if it is already fresh. A build failure is an error that says what to run.
pub fn telltale_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("the test binary's path")?;
    // target/<profile>/deps/e2e-HASH -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary is not in target/<profile>/deps")?
        .to_path_buf();
    let bin = profile_dir.join(format!("telltale{}", std::env::consts::EXE_SUFFIX));
    let stale = match (modified(&bin), modified(&exe)) {
        (Some(b), Some(t)) => b < t,
        _ => true,
    };
    if stale {
        build_telltale(&profile_dir)?;
    }
    if !bin.is_file() {
        bail!(
            "{} is missing after building; build it first: cargo build -p telltale --bin telltale",
            bin.display()
        );
    }
    Ok(bin)
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn build_telltale(profile_dir: &Path) -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-p", "telltale", "--bin", "telltale"])
        .current_dir(&workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => {}
    }
    eprintln!("faults: building the telltale program (cargo build -p telltale --bin telltale)");
    let mut child = cmd
        .spawn()
        .context("cannot run cargo; build it first: cargo build -p telltale --bin telltale")?;
    // Drain stderr on a thread so a chatty build cannot block on a full pipe.
    let mut err = child.stderr.take().context("cargo's stderr")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if started.elapsed() > BUILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "building telltale took over {BUILD_DEADLINE:?}; build it first: cargo build -p telltale --bin telltale"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "build it first: cargo build -p telltale --bin telltale (building it from the test failed: {status}):\n{}",
            tail.join("\n")
        );
    }
    Ok(())
}

/// Resident and peak resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

/// Reads `VmRSS` and `VmHWM` (Linux). `pid` 0 means this process.
pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let path = if pid == 0 {
        "/proc/self/status".to_string()
    } else {
        format!("/proc/{pid}/status")
    };
    let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in {path}"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("cannot read {line:?}"))?;
        Ok(kb * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Resets this process's peak RSS to its current RSS (`/proc/self/clear_refs`, mode
/// 5). Returns false where the kernel or a sandbox refuses; callers then sample RSS.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The `telltale` program with `home` as its HOME and XDG directories and no
/// `TELLTALE_*` variables from the environment: no user's config, token or database
/// leaks into a test. Pipes for stdout and stderr; killed if dropped.
pub fn telltale_command(bin: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TELLTALE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TELLTALE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// `telltale serve` in a child process: its own config and data directories (nothing
/// from the machine's user leaks in), a fixed token, the relay on a free port.
pub struct Serve {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`, from the URL `serve` prints.
    pub base: String,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

/// Most stderr kept for failure messages.
const STDERR_KEEP: usize = 64 * 1024;

impl Serve {
    /// Starts `telltale serve --db DB --listen 127.0.0.1:0 --token T --source URL...`
    /// with `home` as its HOME and XDG directories, and waits (up to `deadline`) for
    /// the URL it prints.
    pub async fn start(
        bin: &Path,
        home: &Path,
        db: &Path,
        sources: &[String],
        deadline: Duration,
    ) -> anyhow::Result<Serve> {
        let mut cmd = telltale_command(bin, home);
        cmd.arg("serve").arg("--db").arg(db).args([
            "--listen",
            "127.0.0.1:0",
            "--token",
            SERVE_TOKEN,
        ]);
        for s in sources {
            cmd.args(["--source", s]);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let pid = child.id().context("the child has a pid")?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let keep = stderr.clone();
            // Drained for as long as the child lives: a full pipe would stall its logging.
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut s = keep.lock().unwrap_or_else(|p| p.into_inner());
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if s.len() > STDERR_KEEP {
                        let cut = s.len() - STDERR_KEEP / 2;
                        let cut = (cut..s.len())
                            .find(|&i| s.is_char_boundary(i))
                            .unwrap_or(s.len());
                        s.drain(..cut);
                    }
                }
            });
        }
        let stdout = child.stdout.take().context("the child's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(deadline, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                bail!("telltale serve printed no URL ({other:?}); stderr:\n{log}");
            }
        };
        // Keep reading stdout so the child never blocks on it (it prints nothing more).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = line
            .split("/?token=")
            .next()
            .filter(|b| b.starts_with("http://127.0.0.1:"))
            .with_context(|| format!("unexpected first line from serve: {line:?}"))?
            .to_string();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()?;
        Ok(Serve {
            child,
            pid,
            base,
            stderr,
            http,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the child logged so far (the last 32–64 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `GET` a relay path with the token; the JSON body of a 2xx answer.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(SERVE_TOKEN)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// SIGKILL: no handler runs, nothing is flushed; then reaps the child.
    pub async fn kill9(mut self, deadline: Duration) -> anyhow::Result<()> {
        self.child.start_kill()?;
        tokio::time::timeout(deadline, self.child.wait())
            .await
            .context("the killed child did not go away")??;
        Ok(())
    }

    /// SIGTERM, as service managers stop it; returns the exit status.
    pub async fn terminate(
        mut self,
        deadline: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("run kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(r) => Ok(r?),
            Err(_) => {
                let _ = self.child.start_kill();
                bail!(
                    "telltale serve did not exit within {deadline:?} of SIGTERM; stderr:\n{}",
                    self.stderr()
                )
            }
        }
    }
}

/// The `data:` payload of numbered event `n` of feed `tag`: a job update that the
/// normaliser recognises, carrying `n` so a stored event names what was sent.
pub fn numbered_data(tag: &str, n: u64) -> String {
    format!(
        r#"{{"jobId":"{tag}-{}","status":"running","progress":{},"n":{n}}}"#,
        n % 50,
        n % 100
    )
}

/// Numbered event `n` as it goes on the wire: `id: n`, a type, the data.
pub fn numbered_frame(tag: &str, n: u64) -> String {
    format!(
        "id: {n}\nevent: job_update\ndata: {}\n\n",
        numbered_data(tag, n)
    )
}

/// Every numbered event a feed wrote successfully, with the connection (request
/// index) it went out on: "what the server sent".
#[derive(Debug, Clone, Default)]
pub struct SentLog(Arc<Mutex<Vec<(usize, u64)>>>);

impl SentLog {
    fn record(&self, conn: usize, ids: impl Iterator<Item = u64>) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.extend(ids.map(|n| (conn, n)));
    }

    pub fn all(&self) -> Vec<(usize, u64)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The distinct ids sent on any connection.
    pub fn distinct(&self) -> BTreeSet<u64> {
        self.all().into_iter().map(|(_, n)| n).collect()
    }

    /// The highest id sent on connection `conn`.
    pub fn last_on(&self, conn: usize) -> Option<u64> {
        self.all()
            .into_iter()
            .filter(|(c, _)| *c == conn)
            .map(|(_, n)| n)
            .max()
    }
}

/// How a numbered feed paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Events written per write.
    pub per_write: u64,
    /// Pause after each write.
    pub pause: Duration,
}

/// Serves one connection of a numbered feed, as an SSE server with ids does: events
/// after the request's `Last-Event-ID` (from 1 without one) up to `total`, then a
/// comment every second so idle timeouts stay quiet, until the client goes away.
pub async fn serve_numbered(
    c: &mut Conn,
    tag: &str,
    total: u64,
    pace: Pace,
    sent: &SentLog,
) -> std::io::Result<()> {
    let after: u64 = c
        .request
        .header("last-event-id")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    c.sse_head().await?;
    let mut n = after + 1;
    while n <= total {
        let end = (n + pace.per_write.max(1) - 1).min(total);
        let mut buf = String::new();
        for k in n..=end {
            buf.push_str(&numbered_frame(tag, k));
        }
        c.write(buf).await?;
        sent.record(c.request.index, n..=end);
        n = end + 1;
        tokio::time::sleep(pace.pause).await;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.write(": keep-alive\n\n").await?;
    }
}

/// Polls `probe` until it returns `Some`, or fails with `what` at the deadline.
pub async fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let give_up = Instant::now() + deadline;
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if Instant::now() >= give_up {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs one ignored (child-only) test of this test binary in a child process (for figures
/// that other tests running in parallel would disturb, such as RSS) and returns its
/// output. Fails if it fails, does not run, or outlives `deadline`.
pub fn run_test_in_child(test: &str, deadline: Duration) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child test");
    // Drained on threads: the child logs a lot and must never block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the child test") {
            break Some(s);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out_t.join().unwrap_or_default()),
        String::from_utf8_lossy(&err_t.join().unwrap_or_default())
    );
    match status {
        None => panic!("{test} did not finish within {deadline:?}:\n{text}"),
        Some(s) => {
            assert!(s.success(), "{test} failed:\n{text}");
            assert!(text.contains("1 passed"), "{test} did not run:\n{text}");
        }
    }
    text
}
