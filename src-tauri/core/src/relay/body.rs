//! JSON request bodies, read by hand so that a malformed body is a JSON `bad_body`
//! error (axum's own rejections are plain text), and so that the message can never
//! echo a secret: serde quotes the offending input ("invalid type: string \"...\""),
//! and in a source body that input may be a password.

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use super::error::{codes, ApiError};

/// Parses `bytes` as `T`, naming what was wrong but none of the values.
pub(crate) fn json<T: DeserializeOwned>(bytes: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            codes::BAD_BODY,
            format!(
                "the body is not a valid {what}: {}",
                without_quoted(&e.to_string())
            ),
        )
    })
}

/// Replaces every quoted or back-ticked piece of text with `…`. Field and variant
/// names are back-ticked by serde too; losing them costs little next to leaking a value.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                open = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_not_echoed() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            n: u32,
        }
        let e = json::<T>(&Bytes::from_static(br#"{"n":"hunter2"}"#), "T").unwrap_err();
        assert_eq!(e.code, "bad_body");
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains("line 1"), "{}", e.message);
    }
}
