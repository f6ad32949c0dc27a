//! The relay's access token: 32 random bytes, hex-encoded, created once per install in
//! the config directory with mode 0600, or fixed by `--token` / `TELLTALE_TOKEN`.
//!
//! The token never appears in `Debug` output or logs, and is compared in constant time
//! so response timing does not reveal how much of a guess was right.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use subtle::ConstantTimeEq;

/// The file, inside the config directory, that holds the per-install token.
pub const TOKEN_FILE_NAME: &str = "relay-token";

const TOKEN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the relay token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the relay token file {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the relay token file {path} is empty or malformed: delete it and a new token is created at the next start")]
    Malformed { path: PathBuf },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("a relay token must be at least 16 printable characters with no spaces")]
    TooWeak,
}

/// A secret that grants full read access to the relay.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// A token given by the operator (`--token`, `TELLTALE_TOKEN`, the config file).
    /// Short or odd tokens are refused: they would be guessable or break URLs.
    pub fn new(text: impl Into<String>) -> Result<Self, TokenError> {
        let text = text.into();
        let ok = text.len() >= 16 && text.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(AccessToken(text))
        } else {
            Err(TokenError::TooWeak)
        }
    }

    /// A fresh random token from the OS generator.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(AccessToken(hex(&bytes)))
    }

    /// The per-install token in `dir`: read it if it exists, else create it (mode 0600
    /// on Unix, created exclusively so two processes starting at once agree on one).
    pub fn load_or_create(dir: &Path) -> Result<Self, TokenError> {
        let path = dir.join(TOKEN_FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_file_text(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(TokenError::Read { path, source }),
        }
        create_private_dir(dir).map_err(|source| TokenError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        let token = Self::generate()?;
        match create_private_file(&path) {
            Ok(mut f) => {
                let written = f
                    .write_all(format!("{}\n", token.0).as_bytes())
                    .and_then(|_| f.sync_all());
                if let Err(source) = written {
                    // A half-written file would lock the operator out at the next start.
                    let _ = std::fs::remove_file(&path);
                    return Err(TokenError::Create { path, source });
                }
                tracing::info!(path = %path.display(), "created the relay access token");
                Ok(token)
            }
            // Another process won the race: use its token.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(|source| TokenError::Read {
                    path: path.clone(),
                    source,
                })?;
                Self::from_file_text(&path, &text)
            }
            Err(source) => Err(TokenError::Create { path, source }),
        }
    }

    fn from_file_text(path: &Path, text: &str) -> Result<Self, TokenError> {
        tighten_permissions(path);
        Self::new(text.trim()).map_err(|_| TokenError::Malformed {
            path: path.to_path_buf(),
        })
    }

    /// Constant-time comparison with what a client sent. Only the length can leak,
    /// and the length of a generated token is public anyway.
    pub fn verify(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }

    /// The token itself, for the URL printed to the operator and for clients.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// A token file others can read is a leaked token; fix the mode rather than refuse to
/// start, and say so.
#[cfg(unix)]
fn tighten_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the relay token file was readable by others; setting mode 0600");
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(not(unix))]
fn tighten_permissions(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_64_hex_chars_and_differ() {
        let a = AccessToken::generate().unwrap();
        let b = AccessToken::generate().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "AccessToken(***)");
    }

    #[test]
    fn the_install_token_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("cfg");
        let first = AccessToken::load_or_create(&sub).unwrap();
        let again = AccessToken::load_or_create(&sub).unwrap();
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sub.join(TOKEN_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn verify_accepts_only_the_exact_token() {
        let t = AccessToken::new("0123456789abcdef0123").unwrap();
        assert!(t.verify(b"0123456789abcdef0123"));
        assert!(!t.verify(b"0123456789abcdef012"));
        assert!(!t.verify(b"0123456789abcdef0124"));
        assert!(!t.verify(b""));
        assert!(AccessToken::new("short").is_err());
        assert!(AccessToken::new("has a space in it, sadly").is_err());
    }
}
