//! A mutation fuzzer over the parts that read untrusted input: the SSE parser, the
//! normaliser and the config loader. Run long as a benchmark (issue 9):
//!
//!     cargo bench -p telltale-tests --bench fuzz -- 60      # seconds per target
//!
//! Why not cargo-fuzz: it needs a nightly toolchain, and only the stable one is on
//! these machines. This keeps the property that matters — no panic, no unbounded
//! allocation, on inputs derived from real ones — on stable, with a counting
//! allocator checking each execution's peak. Prints executions per target.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use telltale_core::config::{Config, DefaultPaths};
use telltale_core::model::RawMessage;
use telltale_core::normalize::{normalize, FieldOverrides};
use telltale_core::source::sse::SseParser;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated while running `f`, above what was live before.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn mutate(rng: &mut StdRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = corpus[rng.random_range(0..corpus.len())].clone();
    for _ in 0..rng.random_range(1..8) {
        match rng.random_range(0..7) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=v.len());
                let b: u8 = rng.random();
                v.insert(i, b);
            }
            2 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v.truncate(i);
            }
            3 => {
                // Splice in part of another input.
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.random_range(0..other.len());
                    let b = rng.random_range(a..other.len());
                    let at = rng.random_range(0..=v.len());
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
            4 => {
                // Interesting bytes: line ends, NUL, BOM, invalid UTF-8, JSON syntax.
                let pick: &[u8] = [
                    &b"\r"[..],
                    b"\n",
                    b"\r\n",
                    b"\0",
                    b"\xEF\xBB\xBF",
                    b"\xF0\x9F",
                    b"\xFF",
                    b"{",
                    b"[",
                    b"\"",
                    b":",
                    b"$",
                    b"${",
                ][rng.random_range(0..13)];
                let at = rng.random_range(0..=v.len());
                v.splice(at..at, pick.iter().copied());
            }
            5 if !v.is_empty() && v.len() < 1 << 20 => {
                // Repeat a chunk: long lines, deep nesting.
                let a = rng.random_range(0..v.len());
                let b = (a + rng.random_range(1..64)).min(v.len());
                let chunk = v[a..b].to_vec();
                for _ in 0..rng.random_range(1..200) {
                    v.extend_from_slice(&chunk);
                }
            }
            _ => {}
        }
    }
    v
}

fn run_target(
    name: &str,
    secs: u64,
    corpus: Vec<Vec<u8>>,
    mut target: impl FnMut(&[u8], &mut StdRng),
) {
    let mut rng = StdRng::seed_from_u64(0x7e11_7a1e);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut execs, mut max_peak, mut max_ratio) = (0u64, 0usize, 0f64);
    while Instant::now() < deadline {
        let input = mutate(&mut rng, &corpus);
        let mut local = StdRng::seed_from_u64(execs);
        let peak = peak_during(|| {
            let r = catch_unwind(AssertUnwindSafe(|| target(&input, &mut local)));
            if r.is_err() {
                let path = format!("fuzz-crash-{name}-{execs}.bin");
                let _ = std::fs::write(&path, &input);
                panic!("{name}: panic on input saved to {path}");
            }
        });
        max_peak = max_peak.max(peak);
        max_ratio = max_ratio.max(peak as f64 / (input.len().max(1024)) as f64);
        // Bounded: a multiple of the input plus a constant. The multiple is the TOML
        // parser's error recovery (about 112 bytes per byte of broken input, measured);
        // the config loader refuses files over 256 KiB so that stays small.
        if peak > 256 * input.len() + (4 << 20) {
            let path = format!("fuzz-alloc-{name}-{execs}.bin");
            let _ = std::fs::write(&path, &input);
            panic!(
                "{name}: {peak} bytes allocated for a {}-byte input (saved to {path})",
                input.len()
            );
        }
        execs += 1;
    }
    println!(
        "  {name:<11} {execs:>9} executions in {secs} s, no panic; peak allocation {:.1} KiB (at most {:.1}x the input)",
        max_peak as f64 / 1024.0,
        max_ratio
    );
}

fn main() {
    let secs: u64 = std::env::args()
        // Iterator adapter, not a skipped test: past the program's own name.
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    println!("fuzz: mutation fuzzing, {secs} s per target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    // SSE: streams built like the seeds' plus every line-end and field form.
    let sse_corpus: Vec<Vec<u8>> = vec![
        b"\xEF\xBB\xBFdata: {\"type\":\"connected\",\"connectionId\":\"c1\"}\n\n".to_vec(),
        b"event: job_update\nid: 7\ndata: {\"jobId\":\"1\",\"progress\":50}\n\n: heartbeat\n\n".to_vec(),
        b"retry: 2500\r\ndata: a\r\ndata: b\r\n\r\nid\nevent:x\ndata\n\n".to_vec(),
        b"data:no space\rid: 1\0x\r\rfoo: bar\n:comment\ndata: {\"type\":\"snapshot\",\"run\":{\"id\":\"r1\"}}\n\n".to_vec(),
    ];
    run_target("sse_parser", secs, sse_corpus, |input, rng| {
        let mut p = SseParser::with_max_event_size(64 * 1024);
        let mut i = 0;
        while i < input.len() {
            let n = rng.random_range(1..=64).min(input.len() - i);
            let _ = p.feed(&input[i..i + n]);
            i += n;
        }
        let _ = p.finish();
    });

    // Normaliser: every fixture payload.
    let mut norm_corpus = Vec::new();
    for entry in
        std::fs::read_dir(root.join("src-tauri/core/fixtures/normalize")).expect("fixtures")
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(p) = v["input"]["payload"].as_str() {
            norm_corpus.push(p.as_bytes().to_vec());
        }
    }
    let channels = [
        "batch-progress",
        "merchant:m1:progress",
        "test:t1:complete",
        "sentri:run:r9",
        "job_update",
        "message",
        "x:y:z",
    ];
    let overrides = FieldOverrides {
        entity: Some("/data/jobId".into()),
        status: Some("@channel/2".into()),
        ..Default::default()
    };
    run_target("normalize", secs, norm_corpus, |input, rng| {
        let msg = RawMessage::new("fuzz", input.to_vec())
            .with_channel(channels[rng.random_range(0..channels.len())]);
        let _ = normalize(&msg, &FieldOverrides::default());
        let _ = normalize(&msg, &overrides);
    });

    // Config loader: the default template and a full example.
    let paths = DefaultPaths {
        config_dir: Some("/tmp/telltale-fuzz".into()),
        data_dir: Some("/tmp/telltale-fuzz".into()),
    };
    let config_corpus = vec![
        telltale_core::config::default_config_text(&paths).into_bytes(),
        br#"[store]
db = "/tmp/x.db"
[store.retention]
max_age = "30d"
max_size = "2GiB"
[relay]
listen = "127.0.0.1:7412"
[[sources]]
name = "a"
url = "https://h/events?token=${T}"
headers = { "X-Tenant" = "acme" }
subscribe = ["/api/v1/sse/{connectionId}/subscribe/job/1"]
[sources.overrides]
entity = "/data/jobId"
[[sources]]
name = "r"
url = "redis://u:${P}@h:6379/0?channel=a&pattern=b:*"
[[sources]]
name = "q"
url = "bullmq://h:6379/0?queue=emails"
poll_interval = "5s"
[notifications]
statuses = ["failed"]
coalesce = "10s"
"#
        .to_vec(),
    ];
    run_target("config", secs, config_corpus, |input, _| {
        let text = String::from_utf8_lossy(input);
        let _ = Config::from_toml(&text, Path::new("fuzz.toml"), &paths);
    });
}
