//! The Sources view's `SourceInput` (ui/src/api/types.ts) and how it becomes a
//! `[[sources]]` table in the config file.
//!
//! Secrets never reach the file: `{env: NAME}` is written as `${NAME}`,
//! `{keychain: {name, value}}` as `${keychain:name}` with the value set aside for the
//! OS keychain, `{keep: true}` leaves what the file has. None of these types print a
//! value through `Debug`.
//!
//! Options the UI may leave out (`idle_timeout_s`, `follow`, `subscribe`,
//! `poll_interval_s`) keep what the file has when absent, so enabling a source from the
//! list does not reset its settings; `bearer` and `token` absent mean "none", as the
//! form sends them whenever they are set.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::StatusCode;
use serde::Deserialize;
use toml_edit::{InlineTable, Item, Table, Value};

use crate::config::edit::{set_bool, set_str, set_str_list};
use crate::config::keychain::valid_entry_name;
use crate::config::KEYCHAIN_REF_PREFIX;
use crate::source::url::SourceUrl;

use super::error::{codes, ApiError};
use super::source_view::shown_url;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceInput {
    pub name: String,
    pub url: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, SecretInput>,
    #[serde(default)]
    pub bearer: Option<SecretInput>,
    #[serde(default)]
    pub token: Option<SecretInput>,
    #[serde(default)]
    pub idle_timeout_s: Option<u64>,
    #[serde(default)]
    pub follow: Option<bool>,
    #[serde(default)]
    pub subscribe: Option<Vec<String>>,
    #[serde(default)]
    pub poll_interval_s: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum SecretInput {
    Env(String),
    Keychain(KeychainInput),
    Keep(bool),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeychainInput {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for KeychainInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeychainInput({:?}, ***)", self.name)
    }
}

/// A value for the OS keychain, stored only once the edit is known to be valid.
pub(crate) struct KeychainWrite {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for KeychainWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeychainWrite({:?}, ***)", self.name)
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_BODY, message)
}

impl SourceInput {
    /// Writes this input into `t` (a new, empty table or the source's existing one).
    /// Keychain values go to `pending`; everything else is checked afterwards by
    /// loading the whole edited file.
    pub fn write_into(
        &self,
        t: &mut Table,
        pending: &mut Vec<KeychainWrite>,
    ) -> Result<(), ApiError> {
        set_str(t, "name", &self.name);
        self.write_url(t)?;
        if !self.enabled || t.contains_key("enabled") {
            set_bool(t, "enabled", self.enabled);
        }
        write_secret(t, "bearer", self.bearer.as_ref(), pending)?;
        write_secret(t, "token", self.token.as_ref(), pending)?;
        self.write_headers(t, pending)?;
        if let Some(s) = self.idle_timeout_s {
            let text = if s == 0 {
                "off".to_string()
            } else {
                format!("{s}s")
            };
            set_str(t, "idle_timeout", &text);
        }
        if let Some(f) = self.follow {
            set_bool(t, "follow", f);
        }
        match &self.subscribe {
            Some(list) if list.is_empty() => {
                t.remove("subscribe");
            }
            Some(list) => set_str_list(t, "subscribe", list),
            None => {}
        }
        if let Some(s) = self.poll_interval_s {
            // 0 is left for the loader to refuse, with its own message.
            set_str(t, "poll_interval", &format!("{s}s"));
        }
        Ok(())
    }

    /// The UI shows the URL with literal secrets as `***`; sent back unchanged, it
    /// means "the URL as configured", not a password of three asterisks.
    fn write_url(&self, t: &mut Table) -> Result<(), ApiError> {
        let url = self.url.trim();
        let current = t.get("url").and_then(Item::as_str).map(str::to_string);
        if let Some(written) = &current {
            let unchanged = written == url
                || SourceUrl::parse(written).is_ok_and(|parsed| shown_url(written, &parsed) == url);
            if unchanged {
                return Ok(());
            }
        }
        if url.contains("***") {
            return Err(bad(
                "url: replace *** with the secret's reference, e.g. ${API_TOKEN} (the value is then read from the environment when used)",
            ));
        }
        set_str(t, "url", url);
        Ok(())
    }

    fn write_headers(
        &self,
        t: &mut Table,
        pending: &mut Vec<KeychainWrite>,
    ) -> Result<(), ApiError> {
        let existing = t.get("headers").and_then(Item::as_table_like);
        let mut wanted: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (name, input) in &self.headers {
            let text = match input {
                SecretInput::Keep(true) => {
                    if existing.and_then(|h| h.get(name)).is_none() {
                        return Err(bad(format!(
                            "headers.{name}: nothing configured to keep; give an env reference or a keychain value"
                        )));
                    }
                    None
                }
                other => Some(secret_text(&format!("headers.{name}"), other, pending)?),
            };
            wanted.insert(name.clone(), text);
        }
        if wanted.is_empty() {
            t.remove("headers");
            return Ok(());
        }
        match t.get_mut("headers") {
            Some(Item::Table(h)) => {
                let stale: Vec<String> = h
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .filter(|k| !wanted.contains_key(k))
                    .collect();
                for k in stale {
                    h.remove(&k);
                }
                for (k, v) in &wanted {
                    if let Some(v) = v {
                        set_str(h, k, v);
                    }
                }
            }
            Some(Item::Value(Value::InlineTable(h))) => {
                let stale: Vec<String> = h
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .filter(|k| !wanted.contains_key(k))
                    .collect();
                for k in stale {
                    h.remove(&k);
                }
                for (k, v) in &wanted {
                    if let Some(v) = v {
                        if h.get(k).and_then(Value::as_str) != Some(v.as_str()) {
                            h.insert(k, Value::from(v.as_str()));
                        }
                    }
                }
            }
            _ => {
                let mut h = InlineTable::new();
                for (k, v) in &wanted {
                    if let Some(v) = v {
                        h.insert(k, Value::from(v.as_str()));
                    }
                }
                t.insert("headers", Item::Value(Value::InlineTable(h)));
            }
        }
        Ok(())
    }
}

fn write_secret(
    t: &mut Table,
    key: &str,
    input: Option<&SecretInput>,
    pending: &mut Vec<KeychainWrite>,
) -> Result<(), ApiError> {
    match input {
        None | Some(SecretInput::Keep(false)) => {
            t.remove(key);
        }
        Some(SecretInput::Keep(true)) => {
            if !t.contains_key(key) {
                return Err(bad(format!(
                    "{key}: nothing configured to keep; give an env reference or a keychain value"
                )));
            }
        }
        Some(other) => {
            let text = secret_text(key, other, pending)?;
            set_str(t, key, &text);
        }
    }
    Ok(())
}

/// The reference to write for an env or keychain secret.
fn secret_text(
    key: &str,
    input: &SecretInput,
    pending: &mut Vec<KeychainWrite>,
) -> Result<String, ApiError> {
    match input {
        SecretInput::Env(name) => {
            if !valid_entry_name(name) {
                return Err(bad(format!(
                    "{key}: environment variable names are letters, digits and '_' (not starting with a digit)"
                )));
            }
            Ok(format!("${{{name}}}"))
        }
        SecretInput::Keychain(k) => {
            if !valid_entry_name(&k.name) {
                return Err(bad(format!(
                    "{key}: keychain entry names are letters, digits and '_' (not starting with a digit)"
                )));
            }
            if k.value.is_empty() {
                return Err(bad(format!("{key}: the secret is empty")));
            }
            if k.value.contains(['\r', '\n']) {
                return Err(bad(format!("{key}: the secret cannot contain line breaks")));
            }
            pending.retain(|p| p.name != k.name);
            pending.push(KeychainWrite {
                name: k.name.clone(),
                value: k.value.clone(),
            });
            Ok(format!("${{{KEYCHAIN_REF_PREFIX}{}}}", k.name))
        }
        SecretInput::Keep(_) => unreachable!("keep is handled by the callers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> SourceInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn secrets_become_references_and_keychain_values_are_set_aside() {
        let i = input(
            r#"{"name":"a","url":"https://x.example/e","enabled":true,
                "headers":{"X-Key":{"keychain":{"name":"XK","value":"s3cret"}}},
                "bearer":{"env":"API_TOKEN"}}"#,
        );
        let mut t = Table::new();
        let mut pending = Vec::new();
        i.write_into(&mut t, &mut pending).unwrap();
        let text = t.to_string();
        assert!(text.contains("bearer = \"${API_TOKEN}\""), "{text}");
        assert!(text.contains("${keychain:XK}"), "{text}");
        assert!(!text.contains("s3cret"));
        assert_eq!(pending.len(), 1);
        assert!(!format!("{pending:?}").contains("s3cret"));
    }

    #[test]
    fn keep_needs_something_to_keep() {
        let i = input(
            r#"{"name":"a","url":"https://x.example/e","enabled":true,"headers":{},"token":{"keep":true}}"#,
        );
        let e = i
            .write_into(&mut Table::new(), &mut Vec::new())
            .unwrap_err();
        assert!(e.message.contains("nothing configured to keep"));
    }

    #[test]
    fn the_shown_url_means_unchanged() {
        let mut t = Table::new();
        set_str(&mut t, "url", "https://x.example/e?token=lit");
        let i = input(
            r#"{"name":"a","url":"https://x.example/e?token=***","enabled":true,"headers":{}}"#,
        );
        i.write_into(&mut t, &mut Vec::new()).unwrap();
        assert_eq!(
            t.get("url").and_then(Item::as_str),
            Some("https://x.example/e?token=lit")
        );
        let i = input(
            r#"{"name":"a","url":"https://y.example/e?token=***","enabled":true,"headers":{}}"#,
        );
        assert!(i.write_into(&mut t, &mut Vec::new()).is_err());
    }
}
