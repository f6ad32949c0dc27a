//! The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) through the `keyring` crate, for secrets the operator enters in the UI.
//!
//! Entries live under the service [`KEYCHAIN_SERVICE`] with the entry name as the
//! account; the config file then holds `${keychain:NAME}` (see [`super::Secret`]).
//!
//! Every call runs on a thread of its own with a deadline:
//! - the Linux backend drives D-Bus with its own async runtime, which must not be
//!   entered from a thread that already runs tokio (the relay's handlers do);
//! - on a machine where the bus exists but no keychain daemon answers, D-Bus can wait
//!   25 s before giving up; the operator should hear "not available" in seconds.
//!
//! Error messages never contain a secret: a value is only ever passed in, never
//! formatted.

use std::sync::mpsc;
use std::time::Duration;

/// The service name every Telltale keychain entry is stored under.
pub const KEYCHAIN_SERVICE: &str = "telltale";

/// How long one keychain call may take before the keychain counts as unavailable.
const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// Why the keychain could not be used. Never carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    #[error("the OS keychain is not available ({reason}); reference an environment variable instead (the config then holds ${{NAME}} and the value is read from the environment when used)")]
    Unavailable { reason: String },
    #[error("keychain entry names are letters, digits and '_' (not starting with a digit), got {name:?}")]
    BadName { name: String },
    #[error("the OS keychain refused to store {name:?}: {reason}")]
    Refused { name: String, reason: String },
}

/// True for names usable as a keychain entry and inside `${keychain:NAME}`.
pub fn valid_entry_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Stores `value` under `name`, replacing any previous value.
pub fn store(name: &str, value: &str) -> Result<(), KeychainError> {
    if !valid_entry_name(name) {
        return Err(KeychainError::BadName {
            name: name.to_string(),
        });
    }
    let entry_name = name.to_string();
    let value = value.to_string();
    let outcome = on_own_thread(move || {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, &entry_name)?;
        entry.set_password(&value)
    })?;
    outcome.map_err(|e| classify(name, e))
}

/// Reads the value stored under `name`; `Ok(None)` when there is no such entry.
pub fn read(name: &str) -> Result<Option<String>, KeychainError> {
    if !valid_entry_name(name) {
        return Err(KeychainError::BadName {
            name: name.to_string(),
        });
    }
    let entry_name = name.to_string();
    let outcome =
        on_own_thread(move || keyring::Entry::new(KEYCHAIN_SERVICE, &entry_name)?.get_password())?;
    match outcome {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(classify(name, e)),
    }
}

/// Removes the entry `name`; a missing entry is not an error.
pub fn delete(name: &str) -> Result<(), KeychainError> {
    if !valid_entry_name(name) {
        return Err(KeychainError::BadName {
            name: name.to_string(),
        });
    }
    let entry_name = name.to_string();
    let outcome = on_own_thread(move || {
        keyring::Entry::new(KEYCHAIN_SERVICE, &entry_name)?.delete_credential()
    })?;
    match outcome {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(classify(name, e)),
    }
}

/// Runs `f` on a fresh thread and waits at most [`CALL_DEADLINE`]. A call that misses
/// the deadline is left to finish (or fail) on its own; its result is dropped.
fn on_own_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, KeychainError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("telltale-keychain".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| KeychainError::Unavailable {
            reason: format!("cannot start a thread for it: {e}"),
        })?;
    match rx.recv_timeout(CALL_DEADLINE) {
        Ok(v) => Ok(v),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(KeychainError::Unavailable {
            reason: format!("it did not answer within {CALL_DEADLINE:?}"),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeychainError::Unavailable {
            reason: "the keychain call failed unexpectedly".into(),
        }),
    }
}

fn classify(name: &str, e: keyring::Error) -> KeychainError {
    match e {
        // No bus, no Secret Service daemon, a locked collection nobody can unlock: the
        // store itself is out of reach.
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            KeychainError::Unavailable {
                reason: inner.to_string(),
            }
        }
        // The bytes are not shown: they are the secret, however mangled.
        keyring::Error::BadEncoding(_) => KeychainError::Refused {
            name: name.to_string(),
            reason: "the stored value is not UTF-8 text".into(),
        },
        other => KeychainError::Refused {
            name: name.to_string(),
            reason: describe(&other),
        },
    }
}

/// The variants left after [`classify`]'s special cases; none of them holds a value.
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::TooLong(attr, limit) => format!("{attr} is longer than {limit}"),
        keyring::Error::Invalid(attr, why) => format!("{attr}: {why}"),
        keyring::Error::Ambiguous(_) => "several entries match".into(),
        keyring::Error::NoEntry => "no such entry".into(),
        _ => "keychain error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_identifiers() {
        assert!(valid_entry_name("API_TOKEN"));
        assert!(valid_entry_name("_x1"));
        assert!(!valid_entry_name("1x"));
        assert!(!valid_entry_name("a-b"));
        assert!(!valid_entry_name(""));
        assert!(matches!(
            store("bad name", "v"),
            Err(KeychainError::BadName { .. })
        ));
    }
}
