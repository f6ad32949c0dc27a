//! The relay end to end (issue 5): the real engine and hub on a temporary SQLite
//! file, the relay on 127.0.0.1 port 0, real HTTP clients (a raw TCP client and
//! reqwest). Every wait has a deadline.

use std::collections::HashSet;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use telltale_core::demo::{DemoOptions, DemoServer};
use telltale_core::model::{EntityKind, RawMessage, Status};
use telltale_core::normalize::{normalize, FieldOverrides};
use telltale_tests::relay_client::{
    publish, raw_status, rss_bytes, Frame, RawSse, RelayHarness, TEST_TOKEN,
};
use tokio::time::Instant;

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn bearer() -> String {
    format!("Bearer {TEST_TOKEN}")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// The seq of a relay frame, checked against the event inside it.
fn seq_of(f: &Frame) -> u64 {
    let id: u64 =
        f.id.as_deref()
            .expect("every relay event has an id")
            .parse()
            .expect("numeric id");
    let v: serde_json::Value = serde_json::from_str(&f.data).expect("data is JSON");
    assert_eq!(v["seq"].as_u64(), Some(id), "id and the event's seq differ");
    id
}

/// Sends `req` with the relay's token as a bearer header.
async fn send_authed(req: reqwest::RequestBuilder) -> reqwest::Response {
    req.header("Authorization", bearer())
        .send()
        .await
        .expect("request to the relay")
}

async fn get_json(url: &str) -> serde_json::Value {
    let resp = send_authed(http().get(url)).await;
    let status = resp.status();
    let body = resp.bytes().await.expect("body");
    assert!(
        status.is_success(),
        "GET {url}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON body")
}

/// 10,000 events published while six clients connect, drop the connection after a
/// random number of events, wait a random moment and reconnect from where they were
/// (`Last-Event-ID`, or `?since=` for half of them): each ends with every event exactly
/// once, in seq order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconnecting_clients_get_every_event_exactly_once_in_order() {
    const TOTAL: u64 = 10_000;
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let addr = h.addr;
    let mut clients = Vec::new();
    for c in 0..6u64 {
        clients.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(c);
            let until = deadline(90);
            let mut got: Vec<u64> = Vec::with_capacity(TOTAL as usize);
            let mut connections = 0;
            // Clients join at different moments, some after publishing started.
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
            while (got.len() as u64) < TOTAL {
                let last = got.last().copied().unwrap_or(0);
                let token_q = format!("token={TEST_TOKEN}");
                let (path, last_id);
                if c % 2 == 0 && connections > 0 {
                    path = format!("/events?since=0&{token_q}");
                    last_id = Some(last.to_string());
                } else {
                    path = format!("/events?since={last}&{token_q}");
                    last_id = None;
                }
                let mut headers = vec![];
                if let Some(l) = &last_id {
                    headers.push(("Last-Event-ID", l.as_str()));
                }
                let mut sse = RawSse::connect(addr, &path, &headers, until)
                    .await
                    .expect("connect");
                assert_eq!(sse.status, 200, "{}", sse.head);
                connections += 1;
                let take = rng.random_range(1..2_500usize);
                for _ in 0..take {
                    if got.len() as u64 == TOTAL {
                        break;
                    }
                    let f = sse
                        .next_frame(until)
                        .await
                        .unwrap_or_else(|e| panic!("client {c}: {e} after {}", got.len()));
                    let seq = seq_of(&f);
                    assert_eq!(
                        seq,
                        got.last().copied().unwrap_or(0) + 1,
                        "client {c}: gap or duplicate"
                    );
                    got.push(seq);
                }
                drop(sse);
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..50))).await;
            }
            (c, got, connections)
        }));
    }
    // 2,500 events/s for 4 s: long enough for every client to reconnect mid-stream.
    publish(&h.sender(), "load", 0, TOTAL, 50, 2_500)
        .await
        .unwrap();
    for client in clients {
        let (c, got, connections) = tokio::time::timeout(Duration::from_secs(120), client)
            .await
            .expect("client finished before the deadline")
            .expect("client task");
        assert_eq!(got, (1..=TOTAL).collect::<Vec<_>>(), "client {c}");
        assert!(
            connections >= 3,
            "client {c} connected only {connections} times"
        );
    }
    h.shutdown().await;
}

/// Runs in a child process (see below) so other tests in this binary do not disturb
/// the memory figures. Skipped in ordinary runs; run directly it is self-contained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run in its own process by a_slow_client_costs_bounded_memory_and_still_gets_everything"]
async fn slow_client_memory_probe() {
    const RATE: u64 = 5_000;
    const SECS: u64 = 10;
    const TOTAL: u64 = RATE * SECS;
    const MAX_GROWTH: u64 = 64 << 20;
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let path = format!("/events?since=0&token={TEST_TOKEN}");
    // Warm up allocator and caches, so the baseline is a running relay, not a cold one.
    publish(&h.sender(), "warm", 0, 5_000, 100, 0)
        .await
        .unwrap();
    let mut warm = RawSse::connect(h.addr, &path, &[], deadline(30))
        .await
        .unwrap();
    warm.frames(5_000, deadline(30)).await.unwrap();
    drop(warm);
    let base = rss_bytes().unwrap();

    let mut slow = RawSse::connect(h.addr, &path, &[], deadline(30))
        .await
        .unwrap();
    let first = slow.frames(10, deadline(30)).await.unwrap();
    assert_eq!(seq_of(&first[0]), 1);
    // A fast client alongside must not be held back by the slow one.
    let fast_path = format!("/events?since=5000&token={TEST_TOKEN}");
    let mut fast = RawSse::connect(h.addr, &fast_path, &[], deadline(30))
        .await
        .unwrap();
    let fast_task = tokio::spawn(async move {
        let mut n = 0u64;
        while n < TOTAL {
            let f = fast.next_frame(deadline(60)).await.expect("fast client");
            n += 1;
            assert_eq!(seq_of(&f), 5_000 + n);
        }
        Instant::now()
    });

    let started = Instant::now();
    let sender = h.sender();
    let producer =
        tokio::spawn(async move { publish(&sender, "load", 10_000, TOTAL, 100, RATE).await });
    let mut peak = base;
    while !producer.is_finished() {
        peak = peak.max(rss_bytes().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    producer.await.unwrap().unwrap();
    let published = Instant::now();
    assert!(started.elapsed() >= Duration::from_secs(SECS - 1));
    let fast_done = tokio::time::timeout(Duration::from_secs(30), fast_task)
        .await
        .expect("fast client finished")
        .unwrap();
    assert!(
        fast_done.duration_since(published) < Duration::from_secs(5),
        "the fast client fell {:?} behind",
        fast_done.duration_since(published)
    );
    peak = peak.max(rss_bytes().unwrap());
    let growth = peak.saturating_sub(base);
    eprintln!(
        "slow client: baseline RSS {} KiB, peak {} KiB, growth {} KiB",
        base >> 10,
        peak >> 10,
        growth >> 10
    );
    assert!(
        growth < MAX_GROWTH,
        "RSS grew by {} KiB with a stalled client",
        growth >> 10
    );

    // Now it reads again: everything after what it had, once, in order.
    let until = deadline(90);
    let want = 5_000 + TOTAL;
    let mut next = 11;
    while next <= want {
        let f = slow.next_frame(until).await.expect("slow client resumes");
        assert_eq!(seq_of(&f), next, "slow client: gap or duplicate");
        next += 1;
    }
    h.shutdown().await;
}

/// A client that reads nothing for 10 s while 5,000 events/s flow raises the process's
/// memory by a bounded amount, and then receives everything.
#[test]
fn a_slow_client_costs_bounded_memory_and_still_gets_everything() {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            "relay::slow_client_memory_probe",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the probe");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the probe") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            panic!("the memory probe did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("probe output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{}",
        text.lines()
            .filter(|l| l.contains("RSS"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(status.success(), "memory probe failed:\n{text}");
    assert!(text.contains("1 passed"), "the probe did not run:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_token_gets_401() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let resp = http().get(h.url("/api/jobs")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token");
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "token_missing");
    let (status, _) = raw_status(h.addr, "/events", &[], deadline(10))
        .await
        .unwrap();
    assert_eq!(status, 401, "no token on /events");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_wrong_token_gets_401() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let resp = http()
        .get(h.url("/api/jobs"))
        .header("Authorization", "Bearer relay-test-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "wrong bearer token");
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "token_invalid");
    let resp = http()
        .get(h.url("/api/jobs?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "wrong ?token=");
    // The right token, both ways, is let in.
    let resp = send_authed(http().get(h.url("/api/jobs"))).await;
    assert_eq!(resp.status(), 200, "right bearer token");
    let resp = http()
        .get(h.url(&format!("/api/jobs?token={TEST_TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "right ?token=");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_gets_403() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let auth = bearer();
    let port = h.addr.port();
    let rebinding = format!("evil.example:{port}");
    let (status, text) = raw_status(
        h.addr,
        "/api/jobs",
        &[("Host", &rebinding), ("Authorization", &auth)],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "foreign Host: {text}");
    assert!(text.contains("forbidden_host"), "{text}");
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1));
    let (status, _) = raw_status(
        h.addr,
        "/api/jobs",
        &[("Host", &other_port), ("Authorization", &auth)],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "loopback Host with another port");
    for ok in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, _) = raw_status(
            h.addr,
            "/api/jobs",
            &[("Host", &ok), ("Authorization", &auth)],
            deadline(10),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "Host {ok}");
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_gets_403() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let auth = bearer();
    let (status, text) = raw_status(
        h.addr,
        "/api/jobs",
        &[("Origin", "http://evil.example"), ("Authorization", &auth)],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "foreign Origin: {text}");
    assert!(text.contains("forbidden_origin"), "{text}");
    // The desktop shell's origin is allowed, with CORS.
    let (status, text) = raw_status(
        h.addr,
        "/api/jobs",
        &[("Origin", "tauri://localhost"), ("Authorization", &auth)],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "tauri origin: {text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("access-control-allow-origin: tauri://localhost"),
        "{text}"
    );
    h.shutdown().await;
}

/// Binding every interface does not open the relay to the network: a peer that is not
/// loopback is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_peer_gets_403() {
    // The address this machine would use to reach the network (no packet is sent).
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let local = probe
        .connect("192.0.2.1:9")
        .ok()
        .and_then(|_| probe.local_addr().ok())
        .map(|a| a.ip());
    let Some(ip) = local.filter(|ip| !ip.is_loopback() && !ip.is_unspecified()) else {
        eprintln!("NOT RUN: this machine has no non-loopback address to connect from");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = telltale_core::engine::Engine::start(telltale_core::engine::EngineOptions {
        db: dir.path().join("r.db"),
        retention: Default::default(),
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let opts = telltale_core::relay::RelayOptions::new(
        telltale_core::relay::AccessToken::new(TEST_TOKEN).unwrap(),
    );
    let relay = telltale_core::relay::Relay::for_engine(listener, &engine, opts).unwrap();
    let target = std::net::SocketAddr::new(ip, port);
    let auth = bearer();
    let host = format!("127.0.0.1:{port}");
    let (status, text) = raw_status(
        target,
        "/api/jobs",
        &[("Host", &host), ("Authorization", &auth)],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "non-loopback peer: {text}");
    assert!(text.contains("forbidden_peer"), "{text}");
    relay.shutdown().await;
    engine.shutdown().await;
}

/// What `curl -N` shows: a raw TCP client sees `retry:`, `id:` and `data:` lines, then
/// a heartbeat comment on a quiet stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_tcp_client_sees_id_and_data_lines() {
    let h = RelayHarness::start(Duration::from_millis(300))
        .await
        .unwrap();
    publish(&h.sender(), "raw", 0, 3, 3, 0).await.unwrap();
    h.sender().flush().await.unwrap();
    let path = format!("/events?since=0&token={TEST_TOKEN}");
    let mut c = RawSse::connect(h.addr, &path, &[], deadline(20))
        .await
        .unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(
        c.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let frames = c.frames(3, deadline(20)).await.unwrap();
    let ids: Vec<_> = frames.iter().map(|f| f.id.clone().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(c.retry, Some(2_000), "retry hint");
    let e: serde_json::Value = serde_json::from_str(&frames[0].data).unwrap();
    assert_eq!(e["source"], "raw");
    assert_eq!(e["kind"], "job");
    c.wait_comment("heartbeat", deadline(10)).await.unwrap();
    // A live event after the heartbeat.
    publish(&h.sender(), "raw", 3, 1, 1, 0).await.unwrap();
    let f = c.next_frame(deadline(10)).await.unwrap();
    assert_eq!(f.id.as_deref(), Some("4"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_filters_narrow_the_stream() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let mut events: Vec<_> = (0..50)
        .map(|i| telltale_tests::relay_client::job_event("a", i))
        .collect();
    for e in events.iter_mut().step_by(10) {
        e.status = Status::Failed;
    }
    events.push(telltale_tests::relay_client::job_event("b", 1_000));
    h.sender()
        .send(telltale_core::hub::Ingest::new("a", events))
        .await
        .unwrap();
    h.sender().flush().await.unwrap();
    let path = format!("/events?since=0&status=failed&kind=job&token={TEST_TOKEN}");
    let mut c = RawSse::connect(h.addr, &path, &[], deadline(20))
        .await
        .unwrap();
    let frames = c.frames(5, deadline(20)).await.unwrap();
    let ids: Vec<u64> = frames.iter().map(seq_of).collect();
    assert_eq!(ids, [1, 11, 21, 31, 41]);
    let path = format!("/events?since=0&source=b&token={TEST_TOKEN}");
    let mut c = RawSse::connect(h.addr, &path, &[], deadline(20))
        .await
        .unwrap();
    assert_eq!(seq_of(&c.next_frame(deadline(20)).await.unwrap()), 51);
    let (status, text) = raw_status(
        h.addr,
        &format!("/events?kind=jobs&token={TEST_TOKEN}"),
        &[],
        deadline(10),
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("bad_param"));
    h.shutdown().await;
}

/// The JSON endpoints the UI uses, over real HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_endpoints_answer_from_the_board_and_the_store() {
    use telltale_core::model::{Event, QueueCounts};
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let mut batch = Vec::new();
    let mut e = Event::new("api", EntityKind::Job, "job-ok", Status::Running);
    e.parent = Some("emails".into());
    batch.push(e);
    let mut e = Event::new("api", EntityKind::Job, "job-ok", Status::Completed);
    e.parent = Some("emails".into());
    batch.push(e);
    let mut e = Event::new("api", EntityKind::Job, "job-bad", Status::Failed);
    e.parent = Some("emails".into());
    e.error = Some("SMTP 550 mailbox unavailable".into());
    batch.push(e);
    let mut e = Event::new("api", EntityKind::Queue, "emails", Status::Info);
    e.counts = Some(QueueCounts {
        waiting: Some(3),
        failed: Some(1),
        ..Default::default()
    });
    batch.push(e);
    batch.push(Event::new(
        "api",
        EntityKind::Worker,
        "mailer-1",
        Status::Busy,
    ));
    h.sender()
        .send(telltale_core::hub::Ingest::new("api", batch))
        .await
        .unwrap();
    h.sender().flush().await.unwrap();

    let jobs = get_json(&h.url("/api/jobs?sort=entity&order=asc")).await;
    assert_eq!(jobs["total"], 2);
    assert_eq!(jobs["items"][0]["entity"], "job-bad");
    assert_eq!(jobs["last_seq"], 5);
    let failed = get_json(&h.url("/api/jobs?status=failed")).await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["items"][0]["error"], "SMTP 550 mailbox unavailable");
    let paged = get_json(&h.url("/api/jobs?limit=1&offset=1&sort=entity&order=asc")).await;
    assert_eq!(paged["items"][0]["entity"], "job-ok");

    let tl = get_json(&h.url("/api/jobs/job-ok/timeline")).await;
    let statuses: Vec<_> = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(statuses, ["running", "completed"]);
    let missing = send_authed(http().get(h.url("/api/jobs/nope/timeline"))).await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = serde_json::from_slice(&missing.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "job_not_found");

    let queues = get_json(&h.url("/api/queues")).await;
    assert_eq!(queues["items"][0]["queue"], "emails");
    assert_eq!(queues["items"][0]["state"]["counts"]["waiting"], 3);
    assert_eq!(queues["items"][0]["history"][0]["counts"]["failed"], 1);
    assert_eq!(queues["items"][0]["jobs"]["failed"], 1);
    let workers = get_json(&h.url("/api/workers")).await;
    assert_eq!(workers["items"][0]["entity"], "mailer-1");
    let sources = get_json(&h.url("/api/sources")).await;
    assert!(sources["items"].is_array());
    let history = get_json(&h.url("/api/history?q=mailbox")).await;
    assert_eq!(history["items"][0]["entity"], "job-bad");
    let health = get_json(&h.url("/api/health")).await;
    assert_eq!(health["hub"]["last_seq"], 5);
    assert_eq!(health["status"], "ok");

    let export = get_json(&h.url("/api/export?format=json&from=0")).await;
    assert_eq!(export.as_array().unwrap().len(), 5);
    let csv = send_authed(http().get(h.url("/api/export?format=csv&kind=job"))).await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert_eq!(
        text.lines().count(),
        4,
        "header and three job events:\n{text}"
    );
    assert!(text.starts_with("seq,received_at"));

    let unknown = send_authed(http().get(h.url("/api/nope"))).await;
    assert_eq!(unknown.status(), 404);
    let post = send_authed(http().post(h.url("/api/jobs"))).await;
    assert_eq!(post.status(), 405, "the relay is read-only");
    // The UI (or, before it is built, the placeholder page) at `/`.
    let page = http()
        .get(h.url(&format!("/?token={TEST_TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    h.shutdown().await;
}

/// The demo server's stream is valid SSE with consecutive ids; the normaliser turns
/// it into jobs (queued, running, completed, failed, retrying), queues with counts and
/// workers; and a reconnect with Last-Event-ID continues the same stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stream_is_valid_sse_that_normalises_into_jobs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut opts = DemoOptions::new(11);
    opts.speed = 5_000.0;
    let demo = DemoServer::start_with(listener, opts).unwrap();
    let url = demo.url();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/events"),
        "{url}"
    );
    let addr = demo.local_addr();
    let mut c = RawSse::connect(addr, "/events", &[], deadline(30))
        .await
        .unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(
        c.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let frames = c.frames(3_000, deadline(60)).await.unwrap();
    let mut statuses = HashSet::new();
    let mut kinds = HashSet::new();
    let mut jobs = HashSet::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(
            f.id.as_deref(),
            Some((i + 1).to_string().as_str()),
            "consecutive ids"
        );
        let name = f.event.clone().expect("named events");
        assert!(
            ["job_update", "queue_update", "worker_status"].contains(&name.as_str()),
            "{name}"
        );
        let raw = RawMessage::new("demo", f.data.clone().into_bytes())
            .with_channel(name.clone())
            .with_remote_id(f.id.clone().unwrap());
        let e = normalize(&raw, &FieldOverrides::default());
        kinds.insert(e.kind);
        match e.kind {
            EntityKind::Job => {
                assert!(e.entity.contains('-'), "job id {e:?}");
                assert!(e.parent.is_some(), "a job's queue: {e:?}");
                statuses.insert(e.status.clone());
                jobs.insert(e.entity.clone());
                if e.status == Status::Failed {
                    assert!(e.error.is_some(), "a failure says why: {e:?}");
                }
            }
            EntityKind::Queue => assert!(e.counts.is_some(), "queue counts: {e:?}"),
            EntityKind::Worker => assert!(matches!(e.status, Status::Busy | Status::Idle), "{e:?}"),
            EntityKind::Source => panic!("nothing should be a source notice: {e:?}"),
        }
    }
    for s in [
        Status::Queued,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Retrying,
    ] {
        assert!(statuses.contains(&s), "no {s} job in {statuses:?}");
    }
    assert!(kinds.contains(&EntityKind::Queue) && kinds.contains(&EntityKind::Worker));
    assert!(jobs.len() > 100, "{} jobs", jobs.len());

    // Resume after event 1,000: the same events again (timestamps aside).
    let mut again = RawSse::connect(addr, "/events", &[("Last-Event-ID", "1000")], deadline(30))
        .await
        .unwrap();
    let resumed = again.frames(5, deadline(30)).await.unwrap();
    for (k, f) in resumed.iter().enumerate() {
        let orig = &frames[1_000 + k];
        assert_eq!(f.id, orig.id);
        let strip = |d: &str| {
            let mut v: serde_json::Value = serde_json::from_str(d).unwrap();
            v.as_object_mut().unwrap().remove("timestamp");
            v
        };
        assert_eq!(strip(&f.data), strip(&orig.data));
    }
    demo.shutdown().await;
}

/// The demo as an ordinary SSE source of a real engine, seen through the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_source_fills_the_board_through_the_engine() {
    let h = RelayHarness::start(Duration::from_secs(15)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut opts = DemoOptions::new(telltale_core::demo::DEFAULT_SEED);
    opts.speed = 200.0;
    let demo = DemoServer::start_with(listener, opts).unwrap();
    let source = telltale_core::source::sse::SseSourceConfig::new(
        telltale_core::demo::SOURCE_NAME,
        demo.url(),
    );
    h.engine
        .as_ref()
        .unwrap()
        .add_sse_source(source, FieldOverrides::default())
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = get_json(&h.url("/api/jobs?status=completed")).await;
        let queues = get_json(&h.url("/api/queues")).await;
        let done = jobs["total"].as_u64().unwrap_or(0) >= 5
            && queues["items"].as_array().is_some_and(|q| q.len() == 4);
        if done {
            assert_eq!(jobs["items"][0]["source"], "demo");
            break;
        }
        assert!(
            Instant::now() < until,
            "the demo did not fill the board: {jobs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sources = get_json(&h.url("/api/sources")).await;
    assert_eq!(sources["items"][0]["name"], "demo");
    h.shutdown().await;
    demo.shutdown().await;
}
