//! `[relay]`: the local HTTP server that serves the UI and the merged stream.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use toml::de::DeTable;

use super::document::Document;
use super::secret::Secret;

/// Loopback only, on a fixed port so bookmarks and scripts keep working across runs.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7412);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// A fixed access token for scripts. `None`: the per-install token kept in the
    /// config directory is used.
    pub token: Option<Secret>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: DEFAULT_LISTEN,
            token: None,
        }
    }
}

const RELAY_KEYS: [&str; 2] = ["listen", "token"];

impl RelayConfig {
    pub(crate) fn read(&mut self, doc: &mut Document<'_>, table: &DeTable<'_>) {
        doc.check_keys(table, "relay", &RELAY_KEYS);
        if let Some(v) = table.get("listen") {
            if let Some(text) = doc.string(v, "relay.listen") {
                match parse_listen(text) {
                    Ok(addr) => {
                        if let Some(w) = listen_warning(addr) {
                            doc.warn(v.span(), "relay.listen", w);
                        }
                        self.listen = addr;
                    }
                    Err(msg) => doc.error(v.span(), "relay.listen", msg),
                }
            }
        }
        if let Some(v) = table.get("token") {
            match doc.string(v, "relay.token") {
                Some("") => doc.error(v.span(), "relay.token", "must not be empty"),
                Some(text) => {
                    let secret = Secret::new(text);
                    if secret.is_literal() {
                        doc.warn(v.span(), "relay.token", super::LITERAL_SECRET_ADVICE);
                    }
                    self.token = Some(secret);
                }
                None => {}
            }
        }
    }
}

/// `ADDR:PORT`; `localhost:PORT` is accepted as the IPv4 loopback so the common
/// spelling does not need a DNS lookup.
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    if let Some(port) = t.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
    }
    t.parse().map_err(|_| {
        format!("invalid address \"{text}\" (write ADDR:PORT, e.g. \"127.0.0.1:7412\" or \"[::1]:7412\"; port 0 picks a free port)")
    })
}

/// The relay refuses non-loopback peers anyway; binding elsewhere only exposes the port.
pub(crate) fn listen_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!("{} is not a loopback address; the relay serves loopback peers only, so binding it only exposes the port", addr.ip())
    })
}
