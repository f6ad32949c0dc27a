//! When the backend says something happened: epoch numbers or ISO-8601 strings.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

use crate::model::Millis;

/// Below this an epoch number cannot be milliseconds of a plausible date (it would be
/// before March 1973), so it is read as seconds: the seeds send `Date.now()`
/// milliseconds, but Python and Go backends commonly send seconds.
const SECONDS_BELOW: f64 = 1e11;

/// Milliseconds since the epoch from a JSON value, or `None` if it is not a time.
pub(super) fn millis(v: &Value) -> Option<Millis> {
    match v {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => from_text(s.trim()),
        _ => None,
    }
}

fn from_epoch(n: f64) -> Option<Millis> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ms = if n < SECONDS_BELOW { n * 1000.0 } else { n };
    // Past year 9999 it is not a timestamp; this also keeps the cast exact.
    (ms <= 253_402_300_799_999.0).then_some(ms as Millis)
}

fn from_text(s: &str) -> Option<Millis> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return from_epoch(n);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    // Databases often serialise without a zone ("2024-05-01 10:00:00"); such times
    // are UTC in every seed backend's stack.
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
        .or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z")
                .ok()
                .map(|t| t.timestamp_millis())
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn epoch_millis_and_seconds() {
        assert_eq!(millis(&json!(1699267200000_i64)), Some(1699267200000));
        assert_eq!(millis(&json!(1699267200)), Some(1699267200000));
        assert_eq!(millis(&json!(1699267200.5)), Some(1699267200500));
        assert_eq!(millis(&json!("1699267200000")), Some(1699267200000));
        assert_eq!(millis(&json!(-5)), None);
        assert_eq!(millis(&json!(1e300)), None);
    }

    #[test]
    fn iso_strings() {
        assert_eq!(
            millis(&json!("2023-11-06T10:40:00.000Z")),
            Some(1699267200000)
        );
        assert_eq!(
            millis(&json!("2023-11-06T11:40:00+01:00")),
            Some(1699267200000)
        );
        assert_eq!(millis(&json!("2023-11-06 10:40:00")), Some(1699267200000));
        assert_eq!(
            millis(&json!("2023-11-06 10:40:00.25+00")),
            Some(1699267200250)
        );
        assert_eq!(millis(&json!("yesterday")), None);
        assert_eq!(millis(&json!(true)), None);
    }
}
