//! `telltale serve`: the engine, its sources and the relay, with no window.
//!
//! Sources: `--source URL` (repeatable) replaces the config file's sources for an
//! ad-hoc run; else the config file's `[[sources]]`; with no config file at all, the
//! built-in demo source, so a first run shows a working board. The UI's URL, with its
//! token, is the only thing printed on stdout (scripts capture it); everything else
//! goes to stderr. Ctrl-C or SIGTERM stops the sources, commits what the hub holds and
//! exits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;

use crate::config::{Config, DefaultPaths, LoadedConfig};
use crate::demo::{DemoOptions, DemoServer};
use crate::engine::{Engine, EngineOptions};
use crate::normalize::FieldOverrides;
use crate::relay::{AccessToken, Relay, RelayOptions};
use crate::source::sse::SseSourceConfig;
use crate::store::Retention;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A source to monitor, instead of the config file's (repeatable): an SSE URL,
    /// redis://HOST?channel=NAME&pattern=GLOB, or bullmq://HOST?queue=NAME.
    #[arg(long = "source", value_name = "URL")]
    pub sources: Vec<String>,
    /// A request header for the SSE sources given with --source (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What `serve` and `demo` share.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The history database (default: the configured one).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Where the relay listens (default: the config's relay.listen, 127.0.0.1:7412;
    /// port 0 picks a free port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// A fixed access token for the relay (default: the per-install token kept in the
    /// config directory).
    #[arg(long)]
    pub token: Option<String>,
}

/// Which sources a run monitors.
#[derive(Debug, Clone)]
pub(crate) enum SourcePlan {
    Urls {
        urls: Vec<String>,
        headers: Vec<(String, String)>,
    },
    Configured,
    Demo(DemoOptions),
}

pub fn run(config: Option<&Path>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded = load_config(config)?;
    let plan = source_plan(&loaded, &args)?;
    run_plan(loaded, &args.common, plan)
}

/// The engine, its sources and the relay, started the way `telltale serve` starts
/// them (same flags, same config, same defaults). The desktop shell runs one of these
/// in-process; the caller owns it and must [`Running::shutdown`] it.
pub async fn start_headless_engine(
    config: Option<&Path>,
    args: &ServeArgs,
) -> anyhow::Result<Running> {
    let loaded = load_config(config)?;
    let plan = source_plan(&loaded, args)?;
    start(loaded, &args.common, plan).await
}

/// Which sources the flags and the config ask for.
fn source_plan(loaded: &LoadedConfig, args: &ServeArgs) -> anyhow::Result<SourcePlan> {
    if !args.sources.is_empty() {
        let headers = args
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(SourcePlan::Urls {
            urls: args.sources.clone(),
            headers,
        })
    } else if loaded.path.is_none() && loaded.config.sources.is_empty() {
        eprintln!(
            "telltale: no config file and no --source: running the built-in demo source (simulated jobs). \
             Add sources to {} or pass --source URL to monitor your own.",
            Config::default_path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "a config file".into())
        );
        Ok(SourcePlan::Demo(DemoOptions::new(
            crate::demo::DEFAULT_SEED,
        )))
    } else {
        if !args.headers.is_empty() {
            anyhow::bail!("-H/--header applies to --source URLs; put headers for configured sources in the config file");
        }
        Ok(SourcePlan::Configured)
    }
}

pub(crate) fn load_config(config: Option<&Path>) -> anyhow::Result<LoadedConfig> {
    let loaded = Config::load(config)?;
    for w in &loaded.warnings {
        eprintln!("telltale: warning: {w}");
    }
    Ok(loaded)
}

pub(crate) fn run_plan(
    loaded: LoadedConfig,
    common: &CommonArgs,
    plan: SourcePlan,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("telltale")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(loaded, common, plan))?;
    Ok(ExitCode::SUCCESS)
}

/// A started engine with its sources and relay.
pub struct Running {
    pub engine: Engine,
    pub relay: Relay,
    /// The configuration it started from (the shell reads `[notifications]`).
    pub config: Config,
    pub db: PathBuf,
    /// The relay's access token, for a client that is not handed [`Relay::ui_url`] (the
    /// desktop window gets it through an initialization script, never a URL).
    pub token: AccessToken,
    demo: Option<DemoServer>,
}

impl Running {
    /// Stops the relay, then the sources, commits what the hub holds, then the demo.
    pub async fn shutdown(self) {
        self.relay.shutdown().await;
        self.engine.shutdown().await;
        if let Some(d) = self.demo {
            d.shutdown().await;
        }
    }
}

async fn start(
    loaded: LoadedConfig,
    common: &CommonArgs,
    plan: SourcePlan,
) -> anyhow::Result<Running> {
    let cfg = loaded.config.clone();
    let db = common.db.clone().unwrap_or_else(|| cfg.store.db.clone());
    let listen = common.listen.unwrap_or(cfg.relay.listen);
    let token = access_token(common, &loaded)?;
    // Bind before starting anything: a port in use should fail fast and say which.
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (another telltale running? use --listen 127.0.0.1:0 for any free port)"))?;
    let engine = Engine::start(EngineOptions {
        db: db.clone(),
        retention: Retention {
            max_age: cfg.store.retention.max_age,
            max_bytes: cfg.store.retention.max_size,
        },
    })
    .with_context(|| format!("cannot open the history at {}", db.display()))?;

    let demo = match start_sources(&engine, &cfg, plan).await {
        Ok(d) => d,
        Err(e) => {
            engine.shutdown().await;
            return Err(e);
        }
    };
    let mut relay_opts = RelayOptions::new(token.clone());
    // Where source and rule edits from the UI are saved: the file in use, or the
    // default location (created on the first edit).
    relay_opts.config_file = loaded
        .path
        .clone()
        .or_else(crate::config::Config::default_path);
    let relay = match Relay::for_engine(listener, &engine, relay_opts) {
        Ok(r) => r,
        Err(e) => {
            engine.shutdown().await;
            if let Some(d) = demo {
                d.shutdown().await;
            }
            return Err(anyhow::anyhow!(e).context("cannot start the relay"));
        }
    };
    Ok(Running {
        engine,
        relay,
        config: cfg,
        db,
        token,
        demo,
    })
}

async fn serve(loaded: LoadedConfig, common: &CommonArgs, plan: SourcePlan) -> anyhow::Result<()> {
    let running = start(loaded, common, plan).await?;
    // The one line on stdout: the UI's address with its token.
    println!("{}", running.relay.ui_url());
    eprintln!(
        "telltale: serving {} (UI, /events, /api); history in {}; Ctrl-C to stop",
        running.relay.base_url(),
        running.db.display()
    );

    super::stop_signal::stop_requested().await;
    eprintln!("telltale: stopping; committing pending events");
    // A second Ctrl-C means "now": the history stays consistent (SQLite, WAL), only
    // the events still in flight are lost.
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("telltale: stopped without waiting");
            std::process::exit(130);
        }
    });
    running.shutdown().await;
    eprintln!("telltale: stopped");
    Ok(())
}

/// Starts the plan's sources; returns the demo server when it runs one.
async fn start_sources(
    engine: &Engine,
    cfg: &Config,
    plan: SourcePlan,
) -> anyhow::Result<Option<DemoServer>> {
    match plan {
        SourcePlan::Urls { urls, headers } => {
            engine.add_source_urls(&urls, &headers)?;
            Ok(None)
        }
        SourcePlan::Configured => {
            if cfg.sources.is_empty() {
                eprintln!("telltale: warning: no sources configured; add [[sources]] to the config file, pass --source URL, or run `telltale demo`");
            }
            for s in &cfg.sources {
                // One bad source must not stop the others; the overview shows it
                // stopped, with the reason.
                if let Err(e) = engine.add_configured_source(s) {
                    tracing::error!(error = %e, "source not started");
                    eprintln!("telltale: {e}");
                }
            }
            Ok(None)
        }
        SourcePlan::Demo(opts) => {
            let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
                .await
                .context("cannot start the demo source")?;
            let demo =
                DemoServer::start_with(listener, opts).context("cannot start the demo source")?;
            let source = SseSourceConfig::new(crate::demo::SOURCE_NAME, demo.url());
            if let Err(e) = engine.add_sse_source(source, FieldOverrides::default()) {
                demo.shutdown().await;
                return Err(anyhow::anyhow!(e).context("cannot add the demo source"));
            }
            Ok(Some(demo))
        }
    }
}

/// `--token`/`TELLTALE_TOKEN`, else the config's `relay.token`, else the per-install
/// token beside the config file (created on first start).
fn access_token(common: &CommonArgs, loaded: &LoadedConfig) -> anyhow::Result<AccessToken> {
    if let Some(t) = &common.token {
        return AccessToken::new(t.trim()).context("--token");
    }
    if let Some(secret) = &loaded.config.relay.token {
        let text = secret.resolve().context("relay.token")?;
        return AccessToken::new(text.trim()).context("relay.token");
    }
    let dir = loaded
        .path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .or_else(|| DefaultPaths::from_os().config_dir);
    match dir {
        Some(dir) => Ok(AccessToken::load_or_create(&dir)?),
        None => {
            eprintln!(
                "telltale: warning: no config directory; using a token valid for this run only"
            );
            Ok(AccessToken::generate()?)
        }
    }
}

/// `Name: value`, as curl writes it.
pub(crate) fn parse_header(h: &str) -> anyhow::Result<(String, String)> {
    match h.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !name.trim().contains(' ') => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        // Not echoed: a malformed header may well be a credential.
        _ => anyhow::bail!("-H expects 'Name: value'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_like_curl() {
        assert_eq!(
            parse_header("X-Tenant:  acme ").unwrap(),
            ("X-Tenant".to_string(), "acme".to_string())
        );
        assert_eq!(
            parse_header("Authorization: Bearer a:b").unwrap().1,
            "Bearer a:b"
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": empty name").is_err());
    }
}
