//! Secrets in the config: tokens, bearer values, sensitive headers, passwords.
//!
//! A secret is kept exactly as written, usually a reference such as `${API_TOKEN}` or
//! `Bearer ${API_TOKEN}`. References are resolved from the environment only when the
//! value is about to be used, so the resolved text never sits in the `Config`, never
//! reaches a log line through `Debug`, and can never be written back to a file.
//!
//! `${keychain:NAME}` refers to the OS keychain entry NAME (service `telltale`, see
//! [`super::keychain`]), where the UI puts secrets typed into it. It is read from the
//! keychain first; when the keychain is out of reach or has no such entry, the
//! environment variable NAME is the fallback, so a headless machine can run a config
//! written on a desktop by exporting the same names.

use std::fmt;

/// A secret value as written in the config. `Debug` and `Display` print `***`.
///
/// The text may contain any number of `${NAME}` references (NAME is letters, digits and
/// `_`, not starting with a digit); `$${` writes a literal `${`. A secret with no
/// reference at all is a *literal* secret: accepted, but the loader warns about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    template: String,
}

/// Why a secret could not be resolved. Names the variable, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `name` is a variable name, or `keychain:NAME` for a keychain reference.
    #[error("{}", missing_message(.name))]
    Missing { name: String },
    #[error("environment variable {name} is not valid UTF-8")]
    NotUnicode { name: String },
}

/// The prefix of a keychain reference's name: `${keychain:NAME}`.
pub const KEYCHAIN_REF_PREFIX: &str = "keychain:";

fn missing_message(name: &str) -> String {
    match name.strip_prefix(KEYCHAIN_REF_PREFIX) {
        Some(entry) => format!(
            "the OS keychain has no readable entry {entry} (service \"telltale\") and the environment variable {entry} is not set either (a secret in the config refers to it as ${{{name}}}); enter the secret again in the Sources view or export {entry}"
        ),
        None => format!(
            "environment variable {name} is not set (a secret in the config refers to it as ${{{name}}})"
        ),
    }
}

/// Looks up one reference: the lookup behind every `resolve()`. A plain name is read
/// from the process environment; `keychain:NAME` from the OS keychain, falling back to
/// the environment variable NAME.
pub fn lookup_env(name: &str) -> Result<Option<String>, SecretError> {
    if let Some(entry) = name.strip_prefix(KEYCHAIN_REF_PREFIX) {
        match super::keychain::read(entry) {
            Ok(Some(v)) => return Ok(Some(v)),
            Ok(None) => {
                tracing::debug!(entry, "no keychain entry; trying the environment");
            }
            // Names only: the reason comes from the keychain, never from a value.
            Err(e) => {
                tracing::warn!(entry, error = %e, "keychain lookup failed; trying the environment")
            }
        }
        return lookup_process_env(entry);
    }
    lookup_process_env(name)
}

fn lookup_process_env(name: &str) -> Result<Option<String>, SecretError> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotUnicode {
            name: name.to_string(),
        }),
    }
}

/// One piece of a secret template.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

impl Secret {
    /// A secret from its text as written in the config (references not resolved).
    pub fn new(template: impl Into<String>) -> Self {
        Secret {
            template: template.into(),
        }
    }

    /// A secret that is exactly the value of one environment variable.
    pub fn from_env_var(name: &str) -> Self {
        Secret::new(format!("${{{name}}}"))
    }

    /// A secret that is exactly the keychain entry `name` (`${keychain:name}`).
    pub fn from_keychain(name: &str) -> Self {
        Secret::new(format!("${{{KEYCHAIN_REF_PREFIX}{name}}}"))
    }

    /// The text as written when it refers to at least one variable or keychain entry
    /// (`${API_TOKEN}`, `Bearer ${API_TOKEN}`): safe to show, since references are
    /// names. `None` for a literal secret, whose text is the secret itself.
    pub fn reference(&self) -> Option<&str> {
        (!self.is_literal()).then_some(self.template.as_str())
    }

    /// True when the value is written in full in the config (no `${...}` reference),
    /// which is what the loader warns about.
    pub fn is_literal(&self) -> bool {
        self.variables().is_empty()
    }

    /// The environment variables this secret refers to, in order. Names are not secret.
    pub fn variables(&self) -> Vec<&str> {
        pieces(&self.template)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Var(name) => Some(name),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// A description safe for logs and error messages: the references it uses, or
    /// `<literal>`; never the value.
    pub fn describe(&self) -> String {
        let vars = self.variables();
        if vars.is_empty() {
            "<literal>".to_string()
        } else {
            vars.iter()
                .map(|v| format!("${{{v}}}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// Resolves references from the process environment, at the moment of use.
    pub fn resolve(&self) -> Result<String, SecretError> {
        self.resolve_with(lookup_env)
    }

    /// Resolves references with a given lookup (tests, or a keychain in front of the
    /// environment). The lookup returns `Ok(None)` for an unset variable.
    pub fn resolve_with<F>(&self, mut lookup: F) -> Result<String, SecretError>
    where
        F: FnMut(&str) -> Result<Option<String>, SecretError>,
    {
        let mut out = String::with_capacity(self.template.len());
        for piece in pieces(&self.template) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => match lookup(name)? {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err(SecretError::Missing {
                            name: name.to_string(),
                        })
                    }
                },
            }
        }
        Ok(out)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Splits a template into text and `${NAME}` references. Anything that is not a
/// well-formed reference (`${}`, `${1X}`, an unclosed `${`) stays literal text, so a
/// password that happens to contain `$` is not mangled.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            // Escape: "$${" is a literal "${".
            out.push(Piece::Text(&rest[..pos]));
            out.push(Piece::Text("${"));
            rest = tail;
            continue;
        }
        if let Some(body) = after.strip_prefix("${") {
            if let Some(end) = body.find('}') {
                let name = &body[..end];
                if is_var_name(name) {
                    out.push(Piece::Text(&rest[..pos]));
                    out.push(Piece::Var(name));
                    rest = &body[end + 1..];
                    continue;
                }
            }
        }
        out.push(Piece::Text(&rest[..pos + 1]));
        rest = &rest[pos + 1..];
    }
    out.push(Piece::Text(rest));
    out.retain(|p| !matches!(p, Piece::Text("")));
    out
}

/// A variable name, or `keychain:` followed by one.
fn is_var_name(name: &str) -> bool {
    let name = name.strip_prefix(KEYCHAIN_REF_PREFIX).unwrap_or(name);
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(
        pairs: &'a [(&'a str, &'a str)],
    ) -> impl FnMut(&str) -> Result<Option<String>, SecretError> + 'a {
        move |name| {
            Ok(pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()))
        }
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert!(s.is_literal());
        assert_eq!(s.describe(), "<literal>");
    }

    #[test]
    fn references_resolve_from_the_lookup() {
        let s = Secret::new("Bearer ${API_TOKEN}");
        assert!(!s.is_literal());
        assert_eq!(s.variables(), vec!["API_TOKEN"]);
        assert_eq!(s.describe(), "${API_TOKEN}");
        let got = s.resolve_with(env(&[("API_TOKEN", "abc")])).unwrap();
        assert_eq!(got, "Bearer abc");
    }

    #[test]
    fn missing_variable_is_named() {
        let s = Secret::new("${A}-${B}");
        let err = s.resolve_with(env(&[("A", "1")])).unwrap_err();
        assert_eq!(
            err,
            SecretError::Missing {
                name: "B".to_string()
            }
        );
        assert!(err.to_string().contains("B is not set"));
    }

    #[test]
    fn malformed_references_stay_literal() {
        for text in ["pa$$word", "${}", "${1X}", "${OPEN", "$", "a$b"] {
            let s = Secret::new(text);
            assert!(s.is_literal(), "{text}");
            assert_eq!(s.resolve_with(env(&[])).unwrap(), text);
        }
    }

    #[test]
    fn escaped_dollar_brace_is_literal() {
        let s = Secret::new("$${NOT_A_VAR}");
        assert!(s.is_literal());
        assert_eq!(s.resolve_with(env(&[])).unwrap(), "${NOT_A_VAR}");
    }

    #[test]
    fn keychain_references_are_references() {
        let s = Secret::from_keychain("API_TOKEN");
        assert!(!s.is_literal());
        assert_eq!(s.reference(), Some("${keychain:API_TOKEN}"));
        assert_eq!(s.variables(), vec!["keychain:API_TOKEN"]);
        assert_eq!(
            s.resolve_with(env(&[("keychain:API_TOKEN", "k")])).unwrap(),
            "k"
        );
        assert!(Secret::new("${keychain:}").is_literal());
        assert!(Secret::new("${vault:X}").is_literal());
        assert_eq!(Secret::new("lit").reference(), None);
        let msg = SecretError::Missing {
            name: "keychain:API_TOKEN".into(),
        }
        .to_string();
        assert!(
            msg.contains("keychain") && msg.contains("export API_TOKEN"),
            "{msg}"
        );
    }

    #[test]
    fn from_env_var_round_trips() {
        let s = Secret::from_env_var("TELLTALE_TOKEN");
        assert_eq!(s.variables(), vec!["TELLTALE_TOKEN"]);
        assert_eq!(
            s.resolve_with(env(&[("TELLTALE_TOKEN", "t")])).unwrap(),
            "t"
        );
    }
}
