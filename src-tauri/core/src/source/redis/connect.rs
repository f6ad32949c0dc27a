//! A `redis::Client` for a [`RedisTarget`]: `redis://` or `rediss://`, ACL user and
//! password, database number, and optionally a private CA for TLS.
//!
//! The client is told not to send `CLIENT SETINFO` on connect. It is harmless, but it
//! changes server-side state, and Telltale promises operators that it sends the
//! monitored Redis nothing but reads (the MONITOR test holds us to it).

use redis::{IntoConnectionInfo, TlsCertificates};

use super::error::RedisSourceError;
use crate::source::url::RedisTarget;

/// Which certificate authorities a `rediss://` connection trusts.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The operating system's roots (the redis crate reads them).
    #[default]
    System,
    /// Only these PEM certificates: a private CA, as managed Redis services and test
    /// servers use.
    CaPem(Vec<u8>),
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsTrust::System => f.write_str("System"),
            TlsTrust::CaPem(p) => write!(f, "CaPem({} bytes)", p.len()),
        }
    }
}

/// Builds the client. The password is resolved here (from `${ENV}` if it is a
/// reference) and lives only inside the client.
pub fn redis_client(
    target: &RedisTarget,
    trust: &TlsTrust,
) -> Result<redis::Client, RedisSourceError> {
    let shown = target.display_url();
    let url = target
        .connection_url()
        .map_err(|source| RedisSourceError::Secret {
            url: shown.clone(),
            source,
        })?;
    // The redis crate's errors can quote the URL it was given: never pass them on.
    let info = url
        .as_str()
        .into_connection_info()
        .map_err(|_| RedisSourceError::Settings {
            url: shown.clone(),
            reason: "the redis client does not accept this address".into(),
        })?;
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    let info = info.set_redis_settings(settings);
    match trust {
        TlsTrust::CaPem(pem) if target.tls => redis::Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            },
        )
        .map_err(|e| RedisSourceError::Tls {
            url: shown,
            reason: e.to_string(),
        }),
        _ => redis::Client::open(info).map_err(|e| RedisSourceError::Settings {
            url: shown,
            reason: e.to_string(),
        }),
    }
}
