//! Seed 004's two-step protocol: find the connection id in the `connected` event and
//! turn the configured path templates into subscription URLs.

use url::Url;

use super::config::TwoStep;
use super::parser::SseEvent;

/// The placeholder in subscription path templates.
pub const CONNECTION_ID_PLACEHOLDER: &str = "{connectionId}";

/// If `event` is the configured `connected` event, the connection id in it.
///
/// Seed 004 names the event (`event: connected`); other servers send an unnamed event
/// with `"type": "connected"` in the JSON, so both are accepted. `Some(Err(..))` means
/// it was the connected event but the id was missing.
pub fn connection_id(two_step: &TwoStep, event: &SseEvent) -> Option<Result<String, String>> {
    let named = event.event_type == two_step.connected_event;
    let json: serde_json::Value = match serde_json::from_str(&event.data) {
        Ok(v) => v,
        Err(_) if named => return Some(Err("its data is not JSON".into())),
        Err(_) => return None,
    };
    let typed = event.event_type == super::parser::DEFAULT_EVENT_TYPE
        && json.get("type").and_then(|t| t.as_str()) == Some(two_step.connected_event.as_str());
    if !named && !typed {
        return None;
    }
    Some(match json.pointer(&two_step.id_pointer) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("no connection id at {}", two_step.id_pointer)),
    })
}

/// The subscription URL for one template: the connection id (from the server, so
/// percent-encoded to stay one path segment) substituted, resolved against `base`.
pub fn subscription_url(base: &Url, template: &str, connection_id: &str) -> Result<Url, String> {
    let path = template.replace(CONNECTION_ID_PLACEHOLDER, &encode_segment(connection_id));
    base.join(&path).map_err(|e| e.to_string())
}

/// Checks a template once at startup, so a typo stops the source with a clear reason
/// instead of failing after every reconnect.
pub fn check_template(base: &Url, template: &str) -> Result<(), String> {
    if !template.contains(CONNECTION_ID_PLACEHOLDER) {
        return Err(format!("it has no {CONNECTION_ID_PLACEHOLDER} placeholder"));
    }
    subscription_url(base, template, "x").map(|_| ())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: &str, data: &str) -> SseEvent {
        SseEvent {
            event_type: t.into(),
            data: data.into(),
            last_event_id: String::new(),
        }
    }

    #[test]
    fn finds_the_id_in_named_or_typed_connected_events() {
        let ts = TwoStep::new(vec![]);
        let got = connection_id(
            &ts,
            &event("connected", r#"{"connectionId":"c-1","timestamp":1}"#),
        );
        assert_eq!(got, Some(Ok("c-1".into())));
        let got = connection_id(
            &ts,
            &event("message", r#"{"type":"connected","connectionId":"c-2"}"#),
        );
        assert_eq!(got, Some(Ok("c-2".into())));
        assert_eq!(
            connection_id(&ts, &event("job_update", r#"{"connectionId":"x"}"#)),
            None
        );
        assert_eq!(connection_id(&ts, &event("message", "not json")), None);
        assert!(matches!(
            connection_id(&ts, &event("connected", "{}")),
            Some(Err(_))
        ));
        assert!(matches!(
            connection_id(&ts, &event("connected", "nope")),
            Some(Err(_))
        ));
    }

    #[test]
    fn templates_resolve_against_the_source_url_with_the_id_encoded() {
        let base = Url::parse("http://h:8000/api/v1/sse/connect?token=t").unwrap();
        let u = subscription_url(
            &base,
            "/api/v1/sse/{connectionId}/subscribe/job/42",
            "a/b c",
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "http://h:8000/api/v1/sse/a%2Fb%20c/subscribe/job/42"
        );
        let u = subscription_url(&base, "{connectionId}/subscribe/queue/q1", "id1").unwrap();
        assert_eq!(
            u.as_str(),
            "http://h:8000/api/v1/sse/id1/subscribe/queue/q1"
        );
        assert!(check_template(&base, "/no/placeholder").is_err());
        assert!(check_template(&base, "/x/{connectionId}").is_ok());
    }
}
