//! One pub/sub message as received: what `telltale tail --raw` prints
//! (`{"channel": ..., "pattern": ..., "data": ...}`) and what the normaliser reads.

use bytes::Bytes;
use serde::ser::SerializeStruct;
use serde::Serialize;

use crate::model::{now_millis, Millis, RawMessage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubMessage {
    pub channel: String,
    /// The glob that matched, for pattern subscriptions.
    pub pattern: Option<String>,
    /// The payload verbatim. Redis payloads are bytes; they are shown as UTF-8 (lossy
    /// only if they are not UTF-8).
    pub data: Bytes,
    pub received_at: Millis,
}

impl PubSubMessage {
    pub fn new(
        channel: impl Into<String>,
        pattern: Option<String>,
        data: impl Into<Bytes>,
    ) -> Self {
        PubSubMessage {
            channel: channel.into(),
            pattern,
            data: data.into(),
            received_at: now_millis(),
        }
    }

    pub(crate) fn from_redis(msg: &redis::Msg) -> Self {
        let pattern = if msg.from_pattern() {
            msg.get_pattern::<Vec<u8>>()
                .ok()
                .map(|p| String::from_utf8_lossy(&p).into_owned())
        } else {
            None
        };
        PubSubMessage::new(
            String::from_utf8_lossy(msg.get_channel_name().as_bytes()).into_owned(),
            pattern,
            Bytes::copy_from_slice(msg.get_payload_bytes()),
        )
    }

    /// The message as the normaliser takes it. Pub/sub gives no id: there is nothing
    /// to dedupe by, and nothing to resume from.
    pub fn to_raw_message(&self, source: &str) -> RawMessage {
        RawMessage {
            source: source.to_string(),
            channel: Some(self.channel.clone()),
            pattern: self.pattern.clone(),
            remote_id: None,
            payload: self.data.clone(),
            received_at: self.received_at,
        }
    }
}

impl Serialize for PubSubMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PubSubMessage", 3)?;
        st.serialize_field("channel", &self.channel)?;
        st.serialize_field("pattern", &self.pattern)?;
        st.serialize_field("data", &String::from_utf8_lossy(&self.data))?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_form_has_channel_pattern_and_data() {
        let m = PubSubMessage::new(
            "test:7:status",
            Some("test:*:status".into()),
            &b"{\"a\":1}"[..],
        );
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"channel": "test:7:status", "pattern": "test:*:status", "data": "{\"a\":1}"})
        );
        let plain = PubSubMessage::new("c", None, &b"\xffhi"[..]);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!({"channel": "c", "pattern": null, "data": "\u{FFFD}hi"})
        );
        let raw = m.to_raw_message("src");
        assert_eq!(raw.channel.as_deref(), Some("test:7:status"));
        assert_eq!(raw.pattern.as_deref(), Some("test:*:status"));
        assert_eq!(raw.remote_id, None);
    }
}
