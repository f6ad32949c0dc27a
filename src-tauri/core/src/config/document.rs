//! Reading typed values out of a parsed TOML document while recording problems.
//!
//! The config is read by walking `toml::de::DeTable` by hand rather than through
//! `serde::Deserialize`: serde stops at the first error, and the operator should see
//! every problem at once, each at its own line. Every getter here reports a wrong value
//! and returns `None`, and the caller keeps the default for that field and goes on.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::problem::{LineIndex, Origin, Problem, Severity};
use super::suggest::did_you_mean;

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// A config file being read: its text (to turn spans into lines) and the problems so far.
pub(crate) struct Document<'t> {
    path: &'t Path,
    text: &'t str,
    lines: LineIndex,
    pub(crate) problems: Vec<Problem>,
}

impl<'t> Document<'t> {
    pub(crate) fn new(path: &'t Path, text: &'t str) -> Self {
        Document {
            path,
            text,
            lines: LineIndex::new(text),
            problems: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.lines.locate(self.text, offset).0
    }

    pub(crate) fn error(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        self.push(Severity::Error, span, key, message.into());
    }

    pub(crate) fn warn(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        self.push(Severity::Warning, span, key, message.into());
    }

    fn push(&mut self, severity: Severity, span: Range<usize>, key: &str, message: String) {
        let (line, column) = self.lines.locate(self.text, span.start);
        self.problems.push(Problem {
            severity,
            origin: Origin::File {
                path: self.path.to_path_buf(),
                line,
                column,
            },
            key: key.to_string(),
            message,
        });
    }

    /// Reports every key of `table` that is not in `known`, with a suggestion when one
    /// is a likely typo. Unknown keys are errors: a misspelt `enabled` silently
    /// ignored is worse than a refusal to start.
    pub(crate) fn check_keys(&mut self, table: &DeTable<'_>, prefix: &str, known: &[&str]) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if !known.contains(&name) {
                let hint = did_you_mean(name, known);
                let message = format!("unknown key{hint}; known keys here: {}", known.join(", "));
                self.error(key.span(), &join(prefix, name), message);
            }
        }
    }

    pub(crate) fn table<'v, 'i>(&mut self, v: &'v Value<'i>, key: &str) -> Option<&'v DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.wrong_type(v.span(), key, "a table", other);
                None
            }
        }
    }

    pub(crate) fn string<'v>(&mut self, v: &'v Value<'_>, key: &str) -> Option<&'v str> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.wrong_type(v.span(), key, "a string", other);
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, v: &Value<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.wrong_type(v.span(), key, "true or false", other);
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, v: &Value<'_>, key: &str) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.error(v.span(), key, "integer out of range");
                    None
                }
            },
            other => {
                self.wrong_type(v.span(), key, "an integer", other);
                None
            }
        }
    }

    /// A duration written for people: `"30s"`, `"5m"`, `"1h 30m"`, `"30d"`.
    pub(crate) fn duration(&mut self, v: &Value<'_>, key: &str) -> Option<Duration> {
        let text = self.string(v, key)?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.error(v.span(), key, msg);
                None
            }
        }
    }

    /// An array of non-empty strings, each with its span.
    pub(crate) fn string_list<'v>(
        &mut self,
        v: &'v Value<'_>,
        key: &str,
    ) -> Option<Vec<(&'v str, Range<usize>)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v.span(), key, "an array of strings", v.get_ref());
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            match self.string(item, &item_key) {
                Some("") => {
                    self.error(item.span(), &item_key, "must not be empty");
                    ok = false;
                }
                Some(s) => out.push((s, item.span())),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn wrong_type(&mut self, span: Range<usize>, key: &str, expected: &str, found: &DeValue<'_>) {
        let message = format!("expected {expected}, found {}", article(found.type_str()));
        self.error(span, key, message);
    }
}

/// Parses a human duration, rejecting zero (every duration here is an interval or a
/// timeout, where zero would mean a busy loop or an instant failure).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "invalid duration \"{text}\": {e} (write e.g. \"30s\", \"5m\", \"1h 30m\" or \"30d\")"
        )),
    }
}

/// `prefix.key`, quoting keys that TOML would need quoted (`headers."X Y"`).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "array" | "integer" => format!("an {type_name}"),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_quotes_odd_keys() {
        assert_eq!(join("", "store"), "store");
        assert_eq!(join("store", "db"), "store.db");
        assert_eq!(
            join("sources[0].headers", "X-Api-Key"),
            "sources[0].headers.X-Api-Key"
        );
        assert_eq!(join("h", "a b"), "h.\"a b\"");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("invalid duration \"soon\""));
    }
}
