//! The monitored system: an SSE endpoint on loopback that the test publishes job events
//! to, shaped like the demo's and seed 004's `job_update`.
//!
//! Redis pub/sub is the source of choice for this test; the engine does not
//! start `redis://` sources yet ("not supported by this build yet"). When it does, this
//! becomes a `RedisServer` plus `PUBLISH`, and the app's `--source` a redis:// URL.

use std::time::Duration;

use serde_json::json;
use telltale_tests::sse_server::ScriptedServer;
use tokio::sync::broadcast;

pub struct JobFeed {
    server: ScriptedServer,
    tx: broadcast::Sender<String>,
}

impl JobFeed {
    pub async fn start() -> JobFeed {
        let (tx, _) = broadcast::channel::<String>(64);
        let subscribe = tx.clone();
        let server = ScriptedServer::start(move |mut conn| {
            let mut rx = subscribe.subscribe();
            async move {
                if conn.request.path() != "/events" {
                    let _ = conn.status("404 Not Found", &[]).await;
                    return;
                }
                if conn.sse_head().await.is_err() {
                    return;
                }
                let mut heartbeat = tokio::time::interval(Duration::from_secs(5));
                loop {
                    let out = tokio::select! {
                        m = rx.recv() => match m {
                            Ok(frame) => frame,
                            Err(_) => return,
                        },
                        _ = heartbeat.tick() => ": heartbeat\n\n".to_string(),
                    };
                    if conn.write(out).await.is_err() {
                        return;
                    }
                }
            }
        })
        .await
        .expect("start the SSE job feed");
        JobFeed { server, tx }
    }

    pub fn url(&self) -> String {
        self.server.url("/events")
    }

    /// Waits until Telltale has connected (so what is published next reaches it).
    pub async fn wait_connected(&self, deadline: Duration) -> bool {
        self.server
            .log
            .wait_for(deadline, |r| r.path() == "/events")
            .await
            .is_some()
            && {
                // The request is logged before the handler subscribes to the channel.
                let give_up = tokio::time::Instant::now() + deadline;
                while self.tx.receiver_count() == 0 && tokio::time::Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                self.tx.receiver_count() > 0
            }
    }

    pub fn publish_failed(&self, id: u64, job: &str, queue: &str, error: &str) {
        let data = json!({
            "type": "job_update",
            "jobId": job,
            "queue": queue,
            "status": "failed",
            "message": "Failed after 3 attempts",
            "error": error,
        });
        let frame = format!("id: {id}\nevent: job_update\ndata: {data}\n\n");
        self.tx.send(frame).expect("Telltale is connected");
    }
}
