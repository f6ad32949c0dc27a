//! Query parameters, read by hand so that every malformed value becomes a JSON
//! `bad_param` error naming the parameter (axum's own rejections are plain text).

use std::collections::HashMap;

use crate::cli::parse_time_arg;
use crate::model::{now_millis, EntityKind, Millis, Status};
use crate::store::EventFilter;

use super::error::ApiError;

/// Decoded query parameters; the last value wins for repeated keys.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// A non-empty value.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::bad_param(name, format!("expected a whole number, got {v:?}"))
                })
            })
            .transpose()
    }

    /// A count with a default, clamped to `max` (a client asking for a million rows
    /// gets `max`, not an error: the response says what limit applied).
    pub fn limit(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        Ok(self
            .u64(name)?
            .map(|v| (v as usize).clamp(1, max))
            .unwrap_or(default))
    }

    /// A time: milliseconds since the epoch, a duration ago (`15m`), or RFC 3339.
    pub fn time(&self, name: &str) -> Result<Option<Millis>, ApiError> {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        if let Ok(ms) = v.parse::<i64>() {
            return Ok(Some(ms));
        }
        parse_time_arg(v, now_millis())
            .map(Some)
            .map_err(|e| ApiError::bad_param(name, e))
    }

    pub fn kind(&self, name: &str) -> Result<Option<EntityKind>, ApiError> {
        self.text(name)
            .map(|v| {
                EntityKind::parse(v).ok_or_else(|| {
                    ApiError::bad_param(
                        name,
                        format!("expected job, queue, worker or source, got {v:?}"),
                    )
                })
            })
            .transpose()
    }

    /// The filters shared by `/events`, `/api/history` and `/api/export`.
    pub fn event_filter(&self) -> Result<EventFilter, ApiError> {
        Ok(EventFilter {
            source: self.text("source").map(str::to_string),
            kind: self.kind("kind")?,
            entity: self.text("entity").map(str::to_string),
            status: self.text("status").map(Status::from_stored),
            from: self.time("from")?,
            until: self.time("until")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_errors_name_the_parameter() {
        let p = Params::parse(Some(
            "source=api&kind=job&status=failed&from=1000&entity=a%20b",
        ));
        let f = p.event_filter().unwrap();
        assert_eq!(f.source.as_deref(), Some("api"));
        assert_eq!(f.kind, Some(EntityKind::Job));
        assert_eq!(f.status, Some(Status::Failed));
        assert_eq!(f.from, Some(1000));
        assert_eq!(f.entity.as_deref(), Some("a b"));
        let e = Params::parse(Some("kind=jobs")).event_filter().unwrap_err();
        assert_eq!(e.code, "bad_param");
        assert!(e.message.contains("`kind`"));
        assert_eq!(
            Params::parse(Some("limit=999999"))
                .limit("limit", 10, 500)
                .unwrap(),
            500
        );
    }
}
