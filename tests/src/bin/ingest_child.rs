//! A child process for the crash test: runs a real hub on the given database and
//! ingests numbered events forever from two resumable "sources", each batch with its
//! cursor, resuming from the stored cursors. The test kills it with SIGKILL.

use std::path::PathBuf;

use telltale_core::hub::{Hub, HubOptions, Ingest};
use telltale_core::model::{EntityKind, Event, Status};
use telltale_core::store::Reader;

fn main() {
    let db = PathBuf::from(std::env::args().nth(1).expect("usage: ingest_child DB"));
    let hub = Hub::start(HubOptions::new(&db)).expect("start hub");
    let reader = Reader::open(&db).expect("open reader");
    let sources = ["alpha", "beta"];
    let mut next: Vec<u64> = sources
        .iter()
        .map(|s| {
            reader
                .cursor(s)
                .unwrap()
                .map(|c| c.parse::<u64>().unwrap() + 1)
                .unwrap_or(0)
        })
        .collect();
    let tx = hub.sender();
    println!("ready {} {}", next[0], next[1]);
    loop {
        for (i, s) in sources.iter().enumerate() {
            let batch: Vec<Event> = (next[i]..next[i] + 37)
                .map(|n| {
                    let mut e = Event::new(
                        *s,
                        EntityKind::Job,
                        format!("{s}-{}", n % 50),
                        Status::Running,
                    );
                    e.remote_id = Some(n.to_string());
                    e.progress = Some((n % 100) as f64);
                    e.raw = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(120));
                    e
                })
                .collect();
            let last = next[i] + 36;
            tx.send_blocking(Ingest::new(*s, batch).with_cursor(last.to_string()))
                .expect("hub alive");
            next[i] = last + 1;
        }
    }
}
