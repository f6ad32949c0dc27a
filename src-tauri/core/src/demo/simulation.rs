//! The simulated job system: a discrete-event simulation on a simulated clock, fully
//! determined by its seed. Event `n` of a seed is always the same event, which is
//! what makes the demo's SSE stream resumable: a client that reconnects with
//! `Last-Event-ID: n` gets event `n + 1` next, even from a restarted server.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde_json::{json, Value};

use super::catalog::{backoff_ms, QueueSpec, QUEUES};
use super::rng::SplitMix64;

/// One message for the SSE stream. `at_ms` is simulated time; the server maps it to
/// wall time and adds the payload's `timestamp` when it sends the event.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoEvent {
    /// 1, 2, 3, ... in stream order.
    pub id: u64,
    pub at_ms: u64,
    /// The SSE event name: `job_update`, `queue_update` or `worker_status`.
    pub name: &'static str,
    pub data: Value,
}

/// How often each queue reports its counts, simulated ms.
const QUEUE_TICK_MS: u64 = 5_000;
/// More waiting jobs than this and arrivals pause: the demo must run for days without
/// a backlog growing.
const MAX_WAITING: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Arrive(usize),
    Step(u64),
    Retry(u64),
    QueueTick(usize),
}

struct Job {
    id: String,
    queue: usize,
    attempt: u32,
    /// Stages finished in this attempt.
    stage: usize,
    /// Where this attempt will fail, and how: (stage, failure index).
    doom: Option<(usize, usize)>,
    worker: usize,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<u64>,
    delayed: u64,
    active: u64,
    completed: u64,
    failed: u64,
}

struct Worker {
    id: &'static str,
    queue: usize,
    concurrency: usize,
    running: Vec<u64>,
}

pub struct Simulation {
    rng: SplitMix64,
    now: u64,
    order: u64,
    agenda: BinaryHeap<Reverse<(u64, u64, Action)>>,
    queues: Vec<QueueState>,
    workers: Vec<Worker>,
    jobs: std::collections::HashMap<u64, Job>,
    next_job: u64,
    next_id: u64,
    out: VecDeque<DemoEvent>,
}

impl Simulation {
    pub fn new(seed: u64) -> Self {
        let mut sim = Simulation {
            rng: SplitMix64::new(seed),
            now: 0,
            order: 0,
            agenda: BinaryHeap::new(),
            queues: QUEUES.iter().map(|_| QueueState::default()).collect(),
            workers: QUEUES
                .iter()
                .enumerate()
                .flat_map(|(q, spec)| {
                    spec.workers.iter().map(move |(id, c)| Worker {
                        id,
                        queue: q,
                        concurrency: *c,
                        running: Vec::new(),
                    })
                })
                .collect(),
            jobs: Default::default(),
            next_job: 1001,
            next_id: 1,
            out: VecDeque::new(),
        };
        // A first board at once: every worker and queue, then jobs within a second or two.
        for w in 0..sim.workers.len() {
            sim.worker_status(w);
        }
        for q in 0..QUEUES.len() {
            sim.queue_update(q);
            let first = sim.rng.between(200, 1_500);
            sim.schedule(first, Action::Arrive(q));
            sim.schedule(QUEUE_TICK_MS + q as u64 * 250, Action::QueueTick(q));
        }
        sim
    }

    /// The next event of the stream. Never ends.
    pub fn next_event(&mut self) -> DemoEvent {
        loop {
            if let Some(e) = self.out.pop_front() {
                return e;
            }
            let Some(Reverse((at, _, action))) = self.agenda.pop() else {
                // Unreachable in practice (queue ticks reschedule forever); keep the
                // clock moving rather than spin.
                self.schedule(QUEUE_TICK_MS, Action::QueueTick(0));
                continue;
            };
            self.now = at;
            self.run(action);
        }
    }

    fn schedule(&mut self, after_ms: u64, action: Action) {
        self.order += 1;
        self.agenda
            .push(Reverse((self.now + after_ms, self.order, action)));
    }

    fn emit(&mut self, name: &'static str, data: Value) {
        self.out.push_back(DemoEvent {
            id: self.next_id,
            at_ms: self.now,
            name,
            data,
        });
        self.next_id += 1;
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::Arrive(q) => self.arrive(q),
            Action::Step(job) => self.step(job),
            Action::Retry(job) => self.retry(job),
            Action::QueueTick(q) => {
                self.queue_update(q);
                self.schedule(QUEUE_TICK_MS, Action::QueueTick(q));
            }
        }
    }

    fn arrive(&mut self, q: usize) {
        let spec = &QUEUES[q];
        let gap = (spec.arrival_ms as f64 * (0.3 + 1.4 * self.rng.unit())) as u64;
        self.schedule(gap.max(50), Action::Arrive(q));
        if self.queues[q].waiting.len() >= MAX_WAITING {
            return;
        }
        let n = self.next_job;
        self.next_job += 1;
        let id = format!("{}-{n}", spec.prefix);
        self.jobs.insert(
            n,
            Job {
                id,
                queue: q,
                attempt: 0,
                stage: 0,
                doom: None,
                worker: 0,
            },
        );
        self.queues[q].waiting.push_back(n);
        self.job_update(n, "waiting", Some(0.0), None, "Queued", None);
        self.dispatch(q);
    }

    /// Starts waiting jobs on free workers of queue `q`.
    fn dispatch(&mut self, q: usize) {
        loop {
            let Some(w) = (0..self.workers.len()).find(|&w| {
                self.workers[w].queue == q
                    && self.workers[w].running.len() < self.workers[w].concurrency
            }) else {
                return;
            };
            let Some(n) = self.queues[q].waiting.pop_front() else {
                return;
            };
            let spec = &QUEUES[q];
            let was_idle = self.workers[w].running.is_empty();
            self.workers[w].running.push(n);
            self.queues[q].active += 1;
            // Retries succeed more often: transient trouble tends to pass.
            let attempt = self.jobs[&n].attempt + 1;
            let rate = spec.failure_rate / attempt as f64;
            let doom = self.rng.chance(rate).then(|| {
                let stage = self.rng.between(0, spec.stages.len() as u64 - 1) as usize;
                let failure = self.rng.between(0, spec.failures.len() as u64 - 1) as usize;
                (stage, failure)
            });
            if let Some(job) = self.jobs.get_mut(&n) {
                job.attempt = attempt;
                job.stage = 0;
                job.doom = doom;
                job.worker = w;
            }
            let (stage, _) = spec.stages[0];
            let msg = format!(
                "Picked up by {} (attempt {attempt} of {})",
                self.workers[w].id, spec.max_attempts
            );
            self.job_update(n, "started", Some(0.0), Some(stage), &msg, None);
            if was_idle {
                self.worker_status(w);
            }
            let d = self.stage_time(q);
            self.schedule(d, Action::Step(n));
        }
    }

    fn stage_time(&mut self, q: usize) -> u64 {
        let (lo, hi) = QUEUES[q].stage_ms;
        self.rng.between(lo, hi)
    }

    fn step(&mut self, n: u64) {
        let Some(job) = self.jobs.get(&n) else { return };
        let (q, stage, doom) = (job.queue, job.stage, job.doom);
        let spec: &QueueSpec = &QUEUES[q];
        if let Some((at, f)) = doom {
            if at == stage {
                return self.fail(n, f);
            }
        }
        let done = stage + 1;
        if let Some(job) = self.jobs.get_mut(&n) {
            job.stage = done;
        }
        if done == spec.stages.len() {
            self.queues[q].completed += 1;
            self.job_update(
                n,
                "completed",
                Some(100.0),
                Some(spec.stages[done - 1].0),
                spec.done_message,
                None,
            );
            self.finish(n, true);
            return;
        }
        let progress = (done * 100 / spec.stages.len()) as f64;
        let (name, msg) = spec.stages[done];
        self.job_update(n, "in_progress", Some(progress), Some(name), msg, None);
        let d = self.stage_time(q);
        self.schedule(d, Action::Step(n));
    }

    fn fail(&mut self, n: u64, f: usize) {
        let Some(job) = self.jobs.get(&n) else { return };
        let (q, attempt, stage) = (job.queue, job.attempt, job.stage);
        let spec = &QUEUES[q];
        let failure = &spec.failures[f];
        let stage_name = spec.stages[stage].0;
        let progress = Some((stage * 100 / spec.stages.len()) as f64);
        if failure.transient && attempt < spec.max_attempts {
            let wait = backoff_ms(attempt);
            let msg = format!(
                "Attempt {attempt} of {} failed; retrying in {} s",
                spec.max_attempts,
                wait / 1000
            );
            self.job_update(
                n,
                "retrying",
                progress,
                Some(stage_name),
                &msg,
                Some(failure.error),
            );
            self.queues[q].delayed += 1;
            self.schedule(wait, Action::Retry(n));
            self.finish(n, false);
        } else {
            self.queues[q].failed += 1;
            let msg = if failure.transient {
                format!("Failed after {attempt} attempts")
            } else {
                format!("Failed in {stage_name}; not retried")
            };
            self.job_update(
                n,
                "failed",
                progress,
                Some(stage_name),
                &msg,
                Some(failure.error),
            );
            self.finish(n, true);
        }
    }

    /// Frees the job's worker slot; forgets the job if it is over.
    fn finish(&mut self, n: u64, over: bool) {
        let Some(job) = self.jobs.get(&n) else { return };
        let (q, w) = (job.queue, job.worker);
        self.queues[q].active = self.queues[q].active.saturating_sub(1);
        self.workers[w].running.retain(|&j| j != n);
        if over {
            self.jobs.remove(&n);
        }
        if self.workers[w].running.is_empty() {
            self.worker_status(w);
        }
        self.dispatch(q);
    }

    fn retry(&mut self, n: u64) {
        let Some(job) = self.jobs.get(&n) else { return };
        let q = job.queue;
        self.queues[q].delayed = self.queues[q].delayed.saturating_sub(1);
        // BullMQ puts a retried job back at the head of the wait list.
        self.queues[q].waiting.push_front(n);
        self.job_update(n, "waiting", None, None, "Waiting to retry", None);
        self.dispatch(q);
    }

    fn job_update(
        &mut self,
        n: u64,
        status: &str,
        progress: Option<f64>,
        stage: Option<&str>,
        message: &str,
        error: Option<&str>,
    ) {
        let Some(job) = self.jobs.get(&n) else { return };
        let mut data = json!({
            "type": "job_update",
            "jobId": job.id,
            "queue": QUEUES[job.queue].name,
            "status": status,
            "message": message,
            "attempt": job.attempt,
        });
        if let Some(p) = progress {
            data["progress"] = json!(p as u64);
        }
        if let Some(s) = stage {
            data["stage"] = json!(s);
        }
        if let Some(e) = error {
            data["error"] = json!(e);
        }
        self.emit("job_update", data);
    }

    fn queue_update(&mut self, q: usize) {
        let s = &self.queues[q];
        let data = json!({
            "type": "queue_update",
            "queueName": QUEUES[q].name,
            "waiting": s.waiting.len(),
            "active": s.active,
            "completed": s.completed,
            "failed": s.failed,
            "delayed": s.delayed,
        });
        self.emit("queue_update", data);
    }

    fn worker_status(&mut self, w: usize) {
        let wk = &self.workers[w];
        let current = wk
            .running
            .first()
            .and_then(|n| self.jobs.get(n))
            .map(|j| j.id.clone());
        let data = json!({
            "type": "worker_status",
            "workerId": wk.id,
            "queue": QUEUES[wk.queue].name,
            "status": if wk.running.is_empty() { "idle" } else { "active" },
            "currentJob": current,
            "concurrency": wk.concurrency,
        });
        self.emit("worker_status", data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let mut a = Simulation::new(42);
        let mut b = Simulation::new(42);
        for _ in 0..2_000 {
            assert_eq!(a.next_event(), b.next_event());
        }
        let mut c = Simulation::new(43);
        let differs = (0..200).any(|_| a.next_event().data != c.next_event().data);
        assert!(differs);
    }

    #[test]
    fn ids_count_up_and_time_never_goes_back() {
        let mut s = Simulation::new(1);
        let mut last = 0;
        for i in 1..=5_000u64 {
            let e = s.next_event();
            assert_eq!(e.id, i);
            assert!(e.at_ms >= last);
            last = e.at_ms;
        }
    }

    #[test]
    fn jobs_complete_fail_and_retry_at_a_gentle_rate() {
        let mut s = Simulation::new(7);
        let events: Vec<DemoEvent> = (0..20_000).map(|_| s.next_event()).collect();
        let status = |w: &str| {
            events
                .iter()
                .filter(|e| e.name == "job_update" && e.data["status"] == w)
                .count()
        };
        assert!(status("completed") > 500, "{}", status("completed"));
        assert!(status("failed") > 20, "{}", status("failed"));
        assert!(status("retrying") > 20, "{}", status("retrying"));
        assert!(status("in_progress") > 1_000);
        for name in ["queue_update", "worker_status"] {
            assert!(events.iter().any(|e| e.name == name));
        }
        // "A few events per second" of simulated time.
        let secs = events.last().unwrap().at_ms as f64 / 1000.0;
        let rate = events.len() as f64 / secs;
        assert!((1.0..=12.0).contains(&rate), "{rate} events/s");
    }
}
