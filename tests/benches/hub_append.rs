//! Hub append throughput: events/s from sources through the hub into SQLite, with
//! every index and the full-text index in place (issue 2).
//!
//!     cargo bench -p telltale-tests --bench hub_append
//!
//! Prints one line per scenario; the median of the runs with min and max.

use std::time::Instant;

use telltale_core::hub::{Hub, HubOptions, Ingest};
use telltale_core::model::{EntityKind, Event, Status};

const EVENTS: usize = 500_000;
const BATCH: usize = 500;
const RUNS: usize = 3;

fn payload(n: usize) -> String {
    // 200 bytes of realistic JSON.
    let mut s = format!(
        "{{\"type\":\"job_update\",\"jobId\":\"job-{n}\",\"status\":\"in_progress\",\"progress\":{},\"stage\":\"parsing\",\"message\":\"Parsing resume content\",\"pad\":\"",
        n % 100
    );
    while s.len() < 198 {
        s.push('x');
    }
    s.push_str("\"}");
    s
}

fn event(n: usize, with_remote_id: bool) -> Event {
    let mut e = Event::new(
        "bench",
        EntityKind::Job,
        format!("job-{}", n % 10_000),
        Status::Running,
    );
    e.progress = Some((n % 100) as f64);
    e.stage = Some("parsing".into());
    e.message = Some("Parsing resume content".into());
    e.channel = Some("job_update".into());
    if with_remote_id {
        e.remote_id = Some(n.to_string());
    }
    e.raw = payload(n);
    e
}

/// Returns (ingest events/s, seconds for search indexing to catch up afterwards).
fn run(with_remote_id: bool) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubOptions::new(dir.path().join("bench.db"))).unwrap();
    let tx = hub.sender();
    let batches: Vec<Vec<Event>> = (0..EVENTS / BATCH)
        .map(|b| {
            (b * BATCH..(b + 1) * BATCH)
                .map(|n| event(n, with_remote_id))
                .collect()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    rt.block_on(async {
        for (i, events) in batches.into_iter().enumerate() {
            tx.send(Ingest::new("bench", events).with_cursor(i.to_string()))
                .await
                .unwrap();
        }
        tx.flush().await.unwrap();
    });
    let ingest = started.elapsed().as_secs_f64();
    let idx_start = Instant::now();
    while hub.health().search_indexed_seq < EVENTS as u64 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let idx = idx_start.elapsed().as_secs_f64();
    assert_eq!(hub.health().stored, EVENTS as u64);
    hub.shutdown();
    (EVENTS as f64 / ingest, idx)
}

fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    println!("hub_append: {EVENTS} events of 200-byte payloads, batches of {BATCH}, {RUNS} runs, WAL + synchronous=NORMAL, all indexes + FTS5");
    for with_id in [false, true] {
        let (mut rates, mut idx) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (r, i) = run(with_id);
            rates.push(r);
            idx.push(i);
        }
        let (m, lo, hi) = summary(rates);
        let (im, ilo, ihi) = summary(idx);
        println!(
            "  {:<28} {:>9.0} events/s (min {:.0}, max {:.0}); search index caught up {:.2} s after (min {:.2}, max {:.2})",
            if with_id { "with remote ids (dedupe):" } else { "without remote ids:" },
            m, lo, hi, im, ilo, ihi
        );
    }
}
