//! From a dispatched SSE event to the source-neutral [`RawMessage`] the normaliser takes.

use crate::model::RawMessage;

use super::parser::SseEvent;

/// Channel = event type, remote id = last event id (when not empty), payload = data.
pub fn to_raw_message(source: &str, event: &SseEvent) -> RawMessage {
    let msg = RawMessage::new(source, event.data.clone().into_bytes())
        .with_channel(event.event_type.clone());
    if event.last_event_id.is_empty() {
        msg
    } else {
        msg.with_remote_id(event.last_event_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_type_id_and_data() {
        let ev = SseEvent {
            event_type: "job_update".into(),
            data: "{\"jobId\":\"1\"}".into(),
            last_event_id: "17".into(),
        };
        let m = to_raw_message("src", &ev);
        assert_eq!(m.source, "src");
        assert_eq!(m.channel.as_deref(), Some("job_update"));
        assert_eq!(m.remote_id.as_deref(), Some("17"));
        assert_eq!(&m.payload[..], b"{\"jobId\":\"1\"}");
        let ev = SseEvent {
            last_event_id: String::new(),
            ..ev
        };
        assert_eq!(to_raw_message("src", &ev).remote_id, None);
    }
}
