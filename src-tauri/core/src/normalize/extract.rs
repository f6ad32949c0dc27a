//! Reading typed values out of loosely typed JSON.
//!
//! Backends send ids as strings or numbers, progress as `42`, `"42"` or `"42%"`, and
//! errors as strings or objects. Every reader here accepts what it reasonably can,
//! returns `None` for the rest, and bounds what it returns: the full payload is kept
//! in `raw`, so the extracted fields only need to be useful, not complete.

use serde_json::{Map, Value};

use crate::model::QueueCounts;

/// Longest id, stage or status text kept; longer is not an id anyone reads.
pub(super) const MAX_ID: usize = 256;
/// Longest message or error kept (the whole text stays in `raw`).
pub(super) const MAX_TEXT: usize = 4096;

/// The first `max` bytes of `s`, cut on a character boundary.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// An id: a non-blank string or a number (BullMQ and many databases use numbers).
pub(super) fn id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(clip(s.trim(), MAX_ID)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `keys` that holds an id.
pub(super) fn first_id(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| obj.get(*k).and_then(id))
}

/// A short label (stage, status word): strings only, trimmed and bounded.
pub(super) fn word(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(clip(s.trim(), MAX_ID)),
        _ => None,
    }
}

/// Human text: a string as is, a number or bool as written, an object or array as
/// compact JSON (so nothing a backend put in a message is hidden).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(clip(s, MAX_TEXT)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        other => Some(compact(other)),
    }
}

/// An error: like [`text`], but an error object's own `message` is what people want
/// to read, and `error: false` means there is none.
pub(super) fn error(v: &Value) -> Option<String> {
    match v {
        Value::Bool(_) => None,
        Value::Object(o) => match o.get("message") {
            Some(Value::String(m)) if !m.trim().is_empty() => Some(clip(m, MAX_TEXT)),
            _ => text(v),
        },
        other => text(other),
    }
}

/// Compact JSON, bounded. The value came from a parsed payload, so it is at most
/// serde_json's recursion limit deep and serialising it cannot overflow the stack.
fn compact(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    clip(&s, MAX_TEXT)
}

/// A percentage: a number, a numeric string, or a numeric string ending in `%`,
/// clamped to 0–100. NaN and infinities are not progress.
pub(super) fn progress(v: &Value) -> Option<f64> {
    let p = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            let s = s.strip_suffix('%').unwrap_or(s).trim_end();
            if s.len() > 32 {
                return None;
            }
            s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    p.is_finite().then(|| p.clamp(0.0, 100.0))
}

/// A count: a non-negative integer, or a numeric string of one.
pub(super) fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            // Some backends send 3.0; a negative or fractional count is not a count.
            (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64)
                .then_some(f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// Queue counts from an object (seed 004's `queue_update`, BullMQ's `getJobCounts`
/// which says `wait` for waiting). A nested `counts` object wins when present.
pub(super) fn counts(obj: &Map<String, Value>) -> Option<QueueCounts> {
    let obj = match obj.get("counts") {
        Some(Value::Object(inner)) => inner,
        _ => obj,
    };
    let get = |keys: &[&str]| keys.iter().find_map(|k| obj.get(*k).and_then(count));
    let c = QueueCounts {
        waiting: get(&["waiting", "wait"]),
        active: get(&["active"]),
        completed: get(&["completed"]),
        failed: get(&["failed"]),
        delayed: get(&["delayed"]),
        prioritized: get(&["prioritized"]),
        paused: get(&["paused"]),
    };
    (!c.is_empty()).then_some(c)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn progress_accepts_numbers_and_numeric_strings_and_clamps() {
        assert_eq!(progress(&json!(42)), Some(42.0));
        assert_eq!(progress(&json!("42.5")), Some(42.5));
        assert_eq!(progress(&json!(" 70 % ")), Some(70.0));
        assert_eq!(progress(&json!(150)), Some(100.0));
        assert_eq!(progress(&json!(-3)), Some(0.0));
        assert_eq!(progress(&json!("NaN")), None);
        assert_eq!(progress(&json!("inf")), None);
        assert_eq!(progress(&json!({"pct": 1})), None);
        assert_eq!(progress(&json!(true)), None);
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
    }

    #[test]
    fn errors_prefer_their_message() {
        assert_eq!(
            error(&json!({"message": "boom", "code": 1})).as_deref(),
            Some("boom")
        );
        assert_eq!(error(&json!({"code": 1})).as_deref(), Some("{\"code\":1}"));
        assert_eq!(error(&json!(false)), None);
        assert_eq!(error(&json!(null)), None);
    }

    #[test]
    fn counts_accept_bullmq_spelling_and_reject_nonsense() {
        let c = counts(
            json!({"wait": 2, "active": "1", "failed": -1})
                .as_object()
                .unwrap(),
        );
        let c = c.unwrap();
        assert_eq!((c.waiting, c.active, c.failed), (Some(2), Some(1), None));
        assert_eq!(counts(json!({"x": 1}).as_object().unwrap()), None);
    }
}
