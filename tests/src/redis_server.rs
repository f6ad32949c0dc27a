//! A real `redis-server` per test, on a free loopback port, optionally with TLS (a
//! test CA and certificate made with rcgen), which can be killed and restarted on the
//! same port, plus a MONITOR recorder that sees every command the server executes.
//!
//! The binary comes from PATH; a missing one is a clear failure, never a skip.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long a starting server may take to answer PING.
const READY_DEADLINE: Duration = Duration::from_secs(15);

/// A second loopback address the server also listens on. A test points Telltale at it
/// so the MONITOR log can tell Telltale's connections from the test's own: the kernel
/// still picks 127.0.0.1 as their source address, but `CLIENT LIST` shows the local
/// address each connection came in on (`laddr`).
pub const SECOND_LOOPBACK: &str = "127.0.0.2";

#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Serve TLS only (`--tls-port`), with a certificate for `localhost` and
    /// 127.0.0.1 signed by a test CA.
    pub tls: bool,
    /// Also listen on [`SECOND_LOOPBACK`].
    pub second_loopback: bool,
    /// Extra `redis-server` arguments (`--requirepass x`, ...).
    pub args: Vec<String>,
}

/// The test CA and server certificate, as PEM files in the server's directory.
struct TlsFiles {
    ca_pem: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

pub struct RedisServer {
    port: u16,
    opts: RedisOptions,
    dir: tempfile::TempDir,
    tls: Option<TlsFiles>,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(RedisOptions::default())
    }

    pub fn start_with(opts: RedisOptions) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        let tls = opts.tls.then(|| make_tls_files(&dir));
        let mut server = RedisServer {
            port: free_port(),
            opts,
            dir,
            tls,
            child: None,
        };
        server.spawn();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT` (or `rediss://localhost:PORT` with TLS).
    pub fn url(&self) -> String {
        if self.tls.is_some() {
            format!("rediss://localhost:{}", self.port)
        } else {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    /// The same server through [`SECOND_LOOPBACK`] (needs `second_loopback`).
    pub fn url_via_second_loopback(&self) -> String {
        assert!(
            self.opts.second_loopback,
            "start the server with second_loopback"
        );
        format!("redis://{SECOND_LOOPBACK}:{}", self.port)
    }

    /// The test CA's certificate (PEM), for clients of a TLS server.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        self.tls.as_ref().map(|t| t.ca_pem.clone().into_bytes())
    }

    /// A client for the test's own commands (publishing, trimming, checking).
    pub fn client(&self) -> redis::Client {
        match &self.tls {
            Some(t) => redis::Client::build_with_tls(
                self.url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(t.ca_pem.clone().into_bytes()),
                },
            )
            .expect("TLS client for the test server"),
            None => redis::Client::open(self.url()).expect("client for the test server"),
        }
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("the test's own connection to redis-server")
    }

    /// SIGKILL: no goodbye to clients, exactly like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]). Data
    /// is not kept: nothing is saved to disk.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        let binds = if self.opts.second_loopback {
            format!("127.0.0.1 {SECOND_LOOPBACK}")
        } else {
            "127.0.0.1".to_string()
        };
        cmd.args(["--bind", &binds])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &self.dir.path().display().to_string()])
            .args([
                "--logfile",
                &self.dir.path().join("redis.log").display().to_string(),
            ]);
        match &self.tls {
            Some(t) => {
                cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .args(["--tls-cert-file", &t.cert.display().to_string()])
                    .args(["--tls-key-file", &t.key.display().to_string()])
                    .args(["--tls-ca-cert-file", &t.ca.display().to_string()])
                    .args(["--tls-auth-clients", "no"]);
            }
            None => {
                cmd.args(["--port", &self.port.to_string()]);
            }
        }
        cmd.args(&self.opts.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-server not found: apt-get install redis-server")
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        self.wait_ready();
    }

    /// Polls PING until the server answers or the deadline passes.
    fn wait_ready(&mut self) {
        let give_up = Instant::now() + READY_DEADLINE;
        let client = self.client();
        let needs_auth = self
            .opts
            .args
            .iter()
            .any(|a| a == "--requirepass" || a.starts_with("--user"));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "redis-server exited at start ({status}); log:\n{}",
                        std::fs::read_to_string(self.dir.path().join("redis.log"))
                            .unwrap_or_default()
                    );
                }
            }
            let answered = match client.get_connection_with_timeout(Duration::from_millis(500)) {
                Ok(mut c) => {
                    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut c);
                    // With a password, "NOAUTH" still proves the server is up.
                    r.is_ok() || needs_auth
                }
                Err(e) => needs_auth && e.code().is_some(),
            };
            if answered {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "redis-server on port {} not ready within {READY_DEADLINE:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts recording every command the server executes (plain servers only).
    pub async fn monitor(&self) -> MonitorLog {
        assert!(self.tls.is_none(), "the MONITOR recorder speaks plain TCP");
        MonitorLog::start(self.port).await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released; redis-server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn make_tls_files(dir: &tempfile::TempDir) -> TlsFiles {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Telltale test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("server key");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        let mut f = std::fs::File::create(&path).expect("write TLS file");
        f.write_all(text.as_bytes()).expect("write TLS file");
        path
    };
    TlsFiles {
        ca_pem: ca_cert.pem(),
        ca: write("ca.pem", &ca_cert.pem()),
        cert: write("server.pem", &cert.pem()),
        key: write("server.key", &key.serialize_pem()),
    }
}

/// One command as MONITOR reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoredCommand {
    /// `ip:port` of the client connection, or `lua` for commands run by scripts.
    pub client: String,
    /// Command name and arguments, unquoted. The name is upper-cased.
    pub args: Vec<String>,
}

impl MonitoredCommand {
    /// `CLIENT SETNAME`-style name: the command plus its subcommand where Redis has
    /// subcommands.
    pub fn name(&self) -> String {
        let first = self.args.first().cloned().unwrap_or_default();
        match (first.as_str(), self.args.get(1)) {
            (
                "CLIENT" | "CONFIG" | "XINFO" | "XGROUP" | "OBJECT" | "MEMORY" | "ACL" | "FUNCTION"
                | "SCRIPT",
                Some(sub),
            ) => {
                format!("{first} {}", sub.to_ascii_uppercase())
            }
            _ => first,
        }
    }

    fn parse(line: &str) -> Option<MonitoredCommand> {
        // +1700000000.123456 [0 127.0.0.1:54321] "XREAD" "BLOCK" "5000"
        let line = line.strip_prefix('+')?;
        let open = line.find('[')?;
        let close = line[open..].find(']')? + open;
        let inside = &line[open + 1..close];
        let client = inside.split_whitespace().nth(1)?.to_string();
        let mut args = Vec::new();
        let mut chars = line[close + 1..].chars().peekable();
        while let Some(c) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut arg = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            arg.push(n);
                        }
                    }
                    '"' => break,
                    other => arg.push(other),
                }
            }
            args.push(arg);
        }
        if let Some(first) = args.first_mut() {
            *first = first.to_ascii_uppercase();
        }
        Some(MonitoredCommand { client, args })
    }
}

/// Every command the server executed since [`RedisServer::monitor`] was called, and
/// which local address each client connected to (sampled from `CLIENT LIST` every
/// 20 ms; only a connection that lives less than that could be missed).
pub struct MonitorLog {
    seen: Arc<Mutex<Vec<MonitoredCommand>>>,
    /// client addr -> local addr it connected to
    laddr: Arc<Mutex<HashMap<String, String>>>,
    task: JoinHandle<()>,
    sampler: JoinHandle<()>,
}

impl MonitorLog {
    async fn start(port: u16) -> MonitorLog {
        let mut stream =
            tokio::time::timeout(READY_DEADLINE, TcpStream::connect(("127.0.0.1", port)))
                .await
                .expect("MONITOR connection within the deadline")
                .expect("MONITOR connection");
        stream
            .write_all(b"MONITOR\r\n")
            .await
            .expect("send MONITOR");
        let mut reader = BufReader::new(stream);
        let mut first = String::new();
        tokio::time::timeout(READY_DEADLINE, reader.read_line(&mut first))
            .await
            .expect("MONITOR answer within the deadline")
            .expect("MONITOR answer");
        assert_eq!(first.trim_end(), "+OK", "MONITOR refused");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if let Some(c) = MonitoredCommand::parse(line.trim_end()) {
                            sink.lock().unwrap_or_else(|p| p.into_inner()).push(c);
                        }
                    }
                }
            }
        });
        let laddr = Arc::new(Mutex::new(HashMap::new()));
        let sampler = tokio::spawn(sample_clients(port, laddr.clone()));
        MonitorLog {
            seen,
            laddr,
            task,
            sampler,
        }
    }

    pub fn commands(&self) -> Vec<MonitoredCommand> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Commands from clients that connected to the server's address `ip`.
    pub fn connected_via(&self, ip: &str) -> Vec<MonitoredCommand> {
        let prefix = format!("{ip}:");
        let laddr = self.laddr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.commands()
            .into_iter()
            .filter(|c| laddr.get(&c.client).is_some_and(|l| l.starts_with(&prefix)))
            .collect()
    }
}

impl Drop for MonitorLog {
    fn drop(&mut self) {
        self.task.abort();
        self.sampler.abort();
    }
}

async fn sample_clients(port: u16, laddr: Arc<Mutex<HashMap<String, String>>>) {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
        return;
    };
    let mut conn = None;
    loop {
        if conn.is_none() {
            conn = client.get_multiplexed_async_connection().await.ok();
        }
        if let Some(c) = conn.as_mut() {
            match redis::cmd("CLIENT")
                .arg("LIST")
                .query_async::<String>(c)
                .await
            {
                Ok(list) => {
                    let mut map = laddr.lock().unwrap_or_else(|p| p.into_inner());
                    for line in list.lines() {
                        let field = |k: &str| {
                            line.split(' ')
                                .find_map(|kv| kv.strip_prefix(k).map(str::to_string))
                        };
                        if let (Some(a), Some(l)) = (field("addr="), field("laddr=")) {
                            map.insert(a, l);
                        }
                    }
                }
                Err(_) => conn = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_parse() {
        let c = MonitoredCommand::parse(
            r#"+1700000000.123456 [0 127.0.0.2:54321] "client" "setname" "a \"b\"""#,
        )
        .unwrap();
        assert_eq!(c.client, "127.0.0.2:54321");
        assert_eq!(c.args, ["CLIENT", "setname", "a \"b\""]);
        assert_eq!(c.name(), "CLIENT SETNAME");
        let lua = MonitoredCommand::parse(r#"+1.0 [0 lua] "XADD" "k""#).unwrap();
        assert_eq!(lua.client, "lua");
    }
}
