use serde::Serialize;

use crate::model::Millis;

/// The hub's state as the health endpoint and the UI banner show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HubHealth {
    pub last_seq: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Events waiting because the last write failed (disk full, ...). Nothing is
    /// dropped while the hub retries; sources wait on the full inbox.
    pub pending: u64,
    /// Events that could not be stored at all (only at shutdown after failures).
    pub lost: u64,
    pub search_indexed_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<HealthError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthError {
    pub code: String,
    pub message: String,
    pub since: Millis,
}
