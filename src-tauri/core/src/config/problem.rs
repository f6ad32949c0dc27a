//! Problems found while loading the config, and the error that carries them.
//!
//! Validation collects every problem instead of stopping at the first, so an operator
//! fixes a file in one pass; each problem points at a line and column the way compilers
//! do (`path:line:col: key: message`), which editors and terminals can jump to.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error stops the load; a warning is reported and the config is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a problem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A place in the config file; line and column start at 1.
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// An environment variable of the environment layer.
    Env { var: String },
}

/// One thing wrong (or suspicious) in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub origin: Origin,
    /// The dotted key the problem is about (`sources[1].url`), empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The line in the file, if the problem comes from the file.
    pub fn line(&self) -> Option<usize> {
        match self.origin {
            Origin::File { line, .. } => Some(line),
            Origin::Env { .. } => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}: ", path.display())?
            }
            Origin::Env { var } => write!(f, "environment variable {var}: ")?,
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why the configuration could not be loaded (or a default file not written).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_invalid(path.as_deref(), problems))]
    Invalid {
        /// The file, or `None` when only the environment was wrong.
        path: Option<PathBuf>,
        /// Every problem, errors and warnings, in file order then environment.
        problems: Vec<Problem>,
    },
    #[error("cannot tell where the config directory is (no home directory?); pass --config PATH or set TELLTALE_CONFIG")]
    NoConfigDir,
    #[error("config file {} already exists; not overwriting it", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("cannot write config file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The problems of an invalid configuration (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn render_invalid(path: Option<&Path>, problems: &[Problem]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let mut out = match path {
        Some(p) => format!(
            "invalid configuration in {} ({errors} error{}):",
            p.display(),
            if errors == 1 { "" } else { "s" }
        ),
        None => format!(
            "invalid configuration ({errors} error{}):",
            if errors == 1 { "" } else { "s" }
        ),
    };
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

/// Turns byte offsets (what the TOML parser reports) into 1-based lines and columns.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Line and column (in characters, so a non-ASCII key does not shift the caret)
    /// of a byte offset. Offsets past the end point at the last line.
    pub(crate) fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_from_one() {
        let text = "a = 1\nb = 2\n\nä = 3";
        let idx = LineIndex::new(text);
        assert_eq!(idx.locate(text, 0), (1, 1));
        assert_eq!(idx.locate(text, 4), (1, 5));
        assert_eq!(idx.locate(text, 6), (2, 1));
        assert_eq!(idx.locate(text, 12), (3, 1));
        // "ä" is two bytes but one column.
        assert_eq!(idx.locate(text, 13 + 2), (4, 2));
        assert_eq!(idx.locate(text, 999), (4, 6));
    }

    #[test]
    fn display_formats() {
        let p = Problem {
            severity: Severity::Error,
            origin: Origin::File {
                path: "telltale.toml".into(),
                line: 12,
                column: 7,
            },
            key: "sources[1].url".into(),
            message: "bad".into(),
        };
        assert_eq!(p.to_string(), "telltale.toml:12:7: sources[1].url: bad");
        let w = Problem {
            severity: Severity::Warning,
            origin: Origin::Env {
                var: "TELLTALE_DB".into(),
            },
            key: String::new(),
            message: "odd".into(),
        };
        assert_eq!(
            w.to_string(),
            "environment variable TELLTALE_DB: warning: odd"
        );
    }
}
