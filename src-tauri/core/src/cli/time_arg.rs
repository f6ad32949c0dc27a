//! Times on the command line: `15m` / `2h` / `7d` (ago), RFC 3339, or
//! `YYYY-MM-DD[ HH:MM[:SS]]` in UTC.

use crate::model::Millis;

pub fn parse_time_arg(s: &str, now: Millis) -> Result<Millis, String> {
    let s = s.trim();
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(now - d.as_millis() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0));
    }
    Err(format!(
        "cannot read the time {s:?}: use a duration ago such as 15m, 2h or 7d, or a time such as 2026-11-23T14:00:00Z or \"2026-11-23 14:00\" (UTC)"
    ))
}

/// A millisecond timestamp as RFC 3339 UTC with milliseconds.
pub fn format_millis(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_ago_and_times_are_utc() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time_arg("15m", now).unwrap(), now - 900_000);
        assert_eq!(
            parse_time_arg("2026-11-23T14:00:00Z", now).unwrap(),
            1_795_442_400_000
        );
        assert_eq!(
            parse_time_arg("2026-11-23 14:00", now).unwrap(),
            1_795_442_400_000
        );
        assert_eq!(
            parse_time_arg("2026-11-23", now).unwrap(),
            1_795_392_000_000
        );
        let err = parse_time_arg("yesterday-ish", now).unwrap_err();
        assert!(err.contains("15m"), "{err}");
        assert_eq!(format_millis(1_795_442_400_123), "2026-11-23T14:00:00.123Z");
    }
}
