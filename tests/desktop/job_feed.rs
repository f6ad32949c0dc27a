//! The monitored system: a real `redis-server` (spawned by the test harness on a free
//! port) whose `jobs` channel the app subscribes to, and the test publishes job events
//! on, shaped like the demo's and seed 004's `job_update`.

use std::time::Duration;

use serde_json::json;
use telltale_tests::redis_server::RedisServer;

const CHANNEL: &str = "jobs";

pub struct JobFeed {
    server: RedisServer,
    conn: redis::aio::MultiplexedConnection,
}

impl JobFeed {
    pub async fn start() -> JobFeed {
        let server = RedisServer::start();
        let conn = server.connection().await;
        JobFeed { server, conn }
    }

    /// The app's `--source`.
    pub fn url(&self) -> String {
        format!("{}?channel={CHANNEL}", self.server.url())
    }

    /// Waits until the app's subscription is in effect on the server, so what is
    /// published next reaches it (pub/sub keeps nothing for late subscribers).
    pub async fn wait_connected(&self, deadline: Duration) -> bool {
        let give_up = tokio::time::Instant::now() + deadline;
        let mut conn = self.conn.clone();
        loop {
            let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(CHANNEL)
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            if counts.iter().any(|(_, n)| *n > 0) {
                return true;
            }
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn publish_failed(&self, job: &str, queue: &str, error: &str) {
        let data = json!({
            "type": "job_update",
            "jobId": job,
            "queue": queue,
            "status": "failed",
            "message": "Failed after 3 attempts",
            "error": error,
        });
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(data.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .expect("PUBLISH");
        assert!(receivers > 0, "nobody subscribed to {CHANNEL}");
    }
}
