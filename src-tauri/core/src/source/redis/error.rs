//! Why a Redis source (pub/sub or BullMQ) cannot start or stopped for good. Messages
//! never contain a password: URLs in them come from `RedisTarget::display_url`.

use crate::config::SecretError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisSourceError {
    #[error("the password for {url} cannot be resolved: {source}")]
    Secret {
        url: String,
        #[source]
        source: SecretError,
    },
    #[error("invalid Redis settings for {url}: {reason}")]
    Settings { url: String, reason: String },
    #[error("TLS trust for {url} is invalid: {reason}; give a PEM file with the CA certificate")]
    Tls { url: String, reason: String },
    #[error("nothing to subscribe to on {url}: add channel=NAME and/or pattern=GLOB")]
    NothingToSubscribe { url: String },
    #[error("{url} refused the credentials ({reason}): check the user name and password")]
    Authentication { url: String, reason: String },
    #[error("{url} denied a command ({reason}): the ACL user needs {needs}")]
    Permission {
        url: String,
        reason: String,
        needs: &'static str,
    },
}

impl RedisSourceError {
    /// Sorts a Redis error seen while connecting or subscribing into "retrying will
    /// not help" (wrong password, missing ACL permission) or `None` (retry).
    pub fn fatal_from(err: &redis::RedisError, url: &str, needs: &'static str) -> Option<Self> {
        let code = err.code().unwrap_or_default();
        if err.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(code, "WRONGPASS" | "NOAUTH")
        {
            return Some(RedisSourceError::Authentication {
                url: url.to_string(),
                reason: err.to_string(),
            });
        }
        if code == "NOPERM" {
            return Some(RedisSourceError::Permission {
                url: url.to_string(),
                reason: err.to_string(),
                needs,
            });
        }
        None
    }
}
