use super::*;
use crate::board::Board;
use crate::model::{EntityKind, Event, Millis, Status};

const T0: Millis = 1_700_000_000_000;
const SEC: Millis = 1_000;

/// A stored event: `seq` as the hub would assign, received at `at`.
fn ev(seq: u64, job: &str, status: Status, at: Millis) -> Event {
    let mut e = Event::new("api", EntityKind::Job, job, status);
    e.seq = seq;
    e.received_at = at;
    e.occurred_at = Some(at);
    e.parent = Some("resume-analysis".into());
    e
}

fn failed(seq: u64, job: &str, at: Millis) -> Event {
    let mut e = ev(seq, job, Status::Failed, at);
    e.error = Some("PDF parse error: unexpected EOF\n  at parse (pdf.js:12)".into());
    e
}

fn policy(coalesce_ms: Millis) -> NotifyPolicy {
    NotifyPolicy {
        coalesce_ms,
        ..NotifyPolicy::default()
    }
}

/// Started at T0 with 100 events already stored.
fn notifier(coalesce_ms: Millis) -> Notifier {
    Notifier::new(
        policy(coalesce_ms),
        Start {
            after_seq: 100,
            at: T0,
        },
    )
}

#[test]
fn one_failure_notifies_at_once_with_the_job_to_open() {
    let mut n = notifier(10 * SEC);
    let out = n.observe(&[failed(101, "resize-17", T0 + SEC)], T0 + SEC);
    assert_eq!(out.len(), 1);
    let note = &out[0];
    assert_eq!(note.title, "Job failed: resize-17");
    assert_eq!(
        note.body,
        "resume-analysis · api\nPDF parse error: unexpected EOF"
    );
    assert_eq!(note.count, 1);
    assert_eq!(note.open.as_ref().unwrap().entity, "resize-17");
    // The window that opened holds nothing: it closes quietly.
    assert_eq!(n.tick(T0 + 11 * SEC), vec![]);
    assert_eq!(n.next_deadline(), None);
}

#[test]
fn a_burst_is_coalesced_into_one_summary_per_window() {
    let mut n = notifier(10 * SEC);
    let mut out = n.observe(&[failed(101, "j0", T0)], T0);
    assert_eq!(out.len(), 1, "the first failure is shown at once");
    // Twelve more within the window: nothing until it ends.
    let burst: Vec<Event> = (1..=12)
        .map(|i| failed(101 + i, &format!("j{i}"), T0 + i as Millis * 100))
        .collect();
    assert!(n.observe(&burst, T0 + 2 * SEC).is_empty());
    assert_eq!(n.next_deadline(), Some(T0 + 10 * SEC));
    assert!(n.tick(T0 + 9 * SEC).is_empty());
    out = n.tick(T0 + 10 * SEC);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].title, "12 jobs failed in queue resume-analysis");
    assert_eq!(out[0].body, "j1, j2, j3 and 9 more");
    assert_eq!(out[0].count, 12);
    assert_eq!(out[0].open.as_ref().unwrap().entity, "j12");
    // The burst goes on: the next one waits for the next window.
    assert!(n
        .observe(&[failed(200, "k1", T0 + 11 * SEC)], T0 + 11 * SEC)
        .is_empty());
    let out = n.tick(T0 + 20 * SEC);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].title, "Job failed: k1",
        "a window holding one shows it as itself"
    );
    // After a quiet window the next failure is immediate again.
    assert!(n.tick(T0 + 30 * SEC).is_empty());
    assert_eq!(n.next_deadline(), None);
    assert_eq!(
        n.observe(&[failed(201, "k2", T0 + 40 * SEC)], T0 + 40 * SEC)
            .len(),
        1
    );
}

#[test]
fn a_summary_across_queues_names_the_biggest() {
    let mut n = notifier(5 * SEC);
    n.observe(&[failed(101, "first", T0)], T0);
    let mut burst = Vec::new();
    for i in 0..5 {
        burst.push(failed(110 + i, &format!("a{i}"), T0 + SEC));
    }
    for i in 0..2 {
        let mut e = failed(120 + i, &format!("b{i}"), T0 + SEC);
        e.parent = Some("emails".into());
        burst.push(e);
    }
    n.observe(&burst, T0 + SEC);
    let out = n.tick(T0 + 5 * SEC);
    assert_eq!(out[0].title, "7 jobs failed");
    assert_eq!(out[0].body, "resume-analysis: 5 · emails: 2");
    assert_eq!(out[0].queue, None);
}

#[test]
fn coalescing_off_gives_one_notification_per_job() {
    let mut n = notifier(0);
    let burst: Vec<Event> = (0..5)
        .map(|i| failed(101 + i, &format!("j{i}"), T0))
        .collect();
    assert_eq!(n.observe(&burst, T0).len(), 5);
    assert_eq!(n.next_deadline(), None);
}

#[test]
fn replayed_history_never_notifies() {
    let mut n = notifier(0);
    // Stored before we subscribed (seq ≤ 100), whatever their timestamps say.
    assert!(n
        .observe(
            &[failed(99, "old", T0 + SEC), failed(100, "old2", T0 + SEC)],
            T0 + SEC
        )
        .is_empty());
    // New to our store but a backlog the source replayed on connect: it happened an
    // hour before we started.
    assert!(n
        .observe(&[failed(101, "backlog", T0 - 3_600 * SEC)], T0 + SEC)
        .is_empty());
    // A live duplicate of that replayed failure does not notify either.
    assert!(n
        .observe(&[failed(102, "backlog", T0 + 2 * SEC)], T0 + 2 * SEC)
        .is_empty());
    // A backend clock a little behind ours is still live.
    assert_eq!(
        n.observe(&[failed(103, "skewed", T0 - 30 * SEC)], T0 + 3 * SEC)
            .len(),
        1
    );
}

#[test]
fn one_notification_per_failure_and_again_after_a_retry() {
    let mut n = notifier(0);
    assert_eq!(n.observe(&[failed(101, "j", T0)], T0).len(), 1);
    // The same failure reported twice (failed, then an error event saying failed).
    assert!(n.observe(&[failed(102, "j", T0 + 1)], T0 + 1).is_empty());
    // Progress-only events do not count as a new attempt.
    assert!(n
        .observe(
            &[ev(103, "j", Status::Info, T0 + 2), failed(104, "j", T0 + 3)],
            T0 + 3
        )
        .is_empty());
    // Retried and failed again: news, so it notifies again.
    let out = n.observe(
        &[
            ev(105, "j", Status::Retrying, T0 + 4),
            failed(106, "j", T0 + 5),
        ],
        T0 + 5,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].title, "Job failed: j");
}

#[test]
fn the_same_job_id_in_two_sources_is_two_jobs() {
    let mut n = notifier(0);
    let a = failed(101, "42", T0);
    let mut b = failed(102, "42", T0);
    b.source = "other".into();
    assert_eq!(n.observe(&[a, b], T0).len(), 2);
}

#[test]
fn snooze_silences_until_it_ends_and_drops_the_held_burst() {
    let mut n = notifier(10 * SEC);
    assert_eq!(n.observe(&[failed(101, "a", T0)], T0).len(), 1);
    n.observe(&[failed(102, "b", T0 + SEC)], T0 + SEC); // held
    n.set_quiet(Quiet::Until(T0 + 3_600 * SEC), T0 + 2 * SEC);
    assert_eq!(n.quiet(T0 + 2 * SEC), Quiet::Until(T0 + 3_600 * SEC));
    assert!(
        n.tick(T0 + 20 * SEC).is_empty(),
        "the held burst is not shown"
    );
    assert!(n
        .observe(&[failed(103, "c", T0 + 30 * SEC)], T0 + 30 * SEC)
        .is_empty());
    assert_eq!(n.missed_while_quiet(), 2);
    // The snooze ends by itself.
    assert_eq!(n.quiet(T0 + 3_600 * SEC), Quiet::Off);
    let out = n.observe(&[failed(104, "d", T0 + 3_601 * SEC)], T0 + 3_601 * SEC);
    assert_eq!(out.len(), 1);
    // A job that failed while snoozed does not pop up afterwards for the same failure.
    assert!(n
        .observe(&[failed(105, "c", T0 + 3_700 * SEC)], T0 + 3_700 * SEC)
        .is_empty());
}

#[test]
fn pause_lasts_until_resumed() {
    let mut n = notifier(0);
    n.set_quiet(Quiet::UntilResumed, T0);
    let far = T0 + 365 * 24 * 3_600 * SEC;
    assert!(n.observe(&[failed(101, "a", far)], far).is_empty());
    assert_eq!(n.quiet(far), Quiet::UntilResumed);
    n.set_quiet(Quiet::Off, far);
    assert_eq!(n.observe(&[failed(102, "b", far)], far).len(), 1);
}

#[test]
fn snooze_state_round_trips_through_the_relays_snoozed_until() {
    for q in [Quiet::Off, Quiet::Until(T0), Quiet::UntilResumed] {
        assert_eq!(Quiet::from_snoozed_until(q.snoozed_until()), q);
    }
    // What the UI writes for "until resumed" (Number.MAX_SAFE_INTEGER).
    assert_eq!(
        Quiet::from_snoozed_until(Some(9_007_199_254_740_991)),
        Quiet::UntilResumed
    );
    // A snooze that already ended is simply off.
    assert_eq!(
        Quiet::from_snoozed_until(Some(T0)).current(T0 + 1),
        Quiet::Off
    );
}

#[test]
fn rules_filter_statuses_sources_and_queues() {
    let mut n = Notifier::new(
        NotifyPolicy {
            enabled: true,
            statuses: vec![Status::Failed, Status::Stalled],
            sources: vec!["api".into()],
            queues: vec!["resume-analysis".into()],
            coalesce_ms: 0,
        },
        Start {
            after_seq: 0,
            at: T0,
        },
    );
    let mut other_source = failed(1, "a", T0);
    other_source.source = "batch".into();
    let mut other_queue = failed(2, "b", T0);
    other_queue.parent = Some("emails".into());
    let mut no_queue = failed(3, "c", T0);
    no_queue.parent = None;
    let completed = ev(4, "d", Status::Completed, T0);
    assert!(n
        .observe(&[other_source, other_queue, no_queue, completed], T0)
        .is_empty());
    let out = n.observe(&[ev(5, "e", Status::Stalled, T0)], T0);
    assert_eq!(out[0].title, "Job stalled: e");

    n.set_policy(NotifyPolicy {
        enabled: false,
        ..n.policy().clone()
    });
    assert!(n.observe(&[failed(6, "f", T0)], T0).is_empty());
}

#[test]
fn config_defaults_become_failed_jobs_with_a_ten_second_window() {
    let p = NotifyPolicy::from(&crate::config::NotificationsConfig::default());
    assert!(p.enabled);
    assert_eq!(p.statuses, vec![Status::Failed]);
    assert_eq!(p.coalesce_ms, 10 * SEC);
}

#[test]
fn tray_turns_red_on_a_live_failure_until_acknowledged() {
    let mut board = Board::default();
    let mut a = Attention::new(Start {
        after_seq: 100,
        at: T0,
    });
    let history_failure = failed(50, "old", T0 - 1_000 * SEC);
    board.apply(&history_failure);
    a.seed_recent(board.iter());
    assert_eq!(a.recent().count(), 1, "history fills the menu");
    assert!(
        !a.observe(std::slice::from_ref(&history_failure)),
        "but is not news"
    );
    assert_eq!(a.tray_state(&BoardCounts::of(&board)), TrayState::AllClear);
    assert_eq!(a.tooltip(&BoardCounts::of(&board)), "1 failed");

    let running = ev(101, "r", Status::Running, T0);
    board.apply(&running);
    a.observe(&[running]);
    let counts = BoardCounts::of(&board);
    assert_eq!(a.tray_state(&counts), TrayState::Activity);

    let f = failed(102, "new", T0 + SEC);
    board.apply(&f);
    assert!(a.observe(&[f]));
    let counts = BoardCounts::of(&board);
    assert_eq!(a.tray_state(&counts), TrayState::Failing);
    assert_eq!(a.tooltip(&counts), "1 running · 2 failed (1 new)");
    assert_eq!(a.recent().next().unwrap().job.entity, "new");

    a.acknowledge();
    assert_eq!(a.tray_state(&counts), TrayState::Activity);
}

#[test]
fn a_retried_failure_stops_counting_and_recent_keeps_five_distinct_jobs() {
    let mut a = Attention::new(Start {
        after_seq: 0,
        at: T0,
    });
    for i in 0..7 {
        a.observe(&[failed(1 + i, &format!("j{i}"), T0)]);
    }
    a.observe(&[failed(20, "j3", T0)]);
    let recent: Vec<&str> = a.recent().map(|r| r.job.entity.as_str()).collect();
    assert_eq!(recent, ["j3", "j6", "j5", "j4", "j2"]);
    assert_eq!(a.unacknowledged(), 7);
    a.observe(&[ev(21, "j3", Status::Retrying, T0)]);
    assert_eq!(a.unacknowledged(), 6);
}
