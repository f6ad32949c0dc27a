// Latest state per entity, folded from events. A line-for-line port of
// `board.rs` `EntityState::apply`, so the UI's board and the relay's agree; the test
// in `reduce.test.ts` replays the Rust unit tests' scenarios.

import type { EntityState, TelltaleEvent } from "../api/types";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export const isTerminal = (status: string): boolean => TERMINAL.has(status);

/** A status that says something about the entity (not a progress tick or notice). */
export const carriesStatus = (status: string): boolean => status !== "info" && status !== "";

/** The state before any event (`EntityState::first`). */
export function firstState(e: TelltaleEvent): EntityState {
  return {
    kind: e.kind,
    entity: e.entity,
    source: e.source,
    status: "",
    first_seen: e.occurred_at ?? e.received_at,
    last_seen: e.received_at,
    last_seq: 0,
    events: 0,
  };
}

/** Folds one event into `s` in place. */
export function applyEvent(s: EntityState, e: TelltaleEvent): void {
  const at = e.occurred_at ?? e.received_at;
  s.source = e.source;
  s.last_seen = Math.max(s.last_seen, e.received_at);
  s.last_seq = Math.max(s.last_seq, e.seq);
  s.events += 1;
  if (e.parent !== undefined) s.parent = e.parent;
  if (carriesStatus(e.status)) {
    const st = e.status;
    if (st === "running") {
      if (s.started_at === undefined || s.finished_at !== undefined) {
        // A retried job starts over: its duration is the new attempt's.
        s.started_at = at;
        delete s.finished_at;
        delete s.error;
      }
    } else if (st === "queued" || st === "delayed" || st === "retrying") {
      delete s.finished_at;
    } else if (isTerminal(st)) {
      s.finished_at = at;
      s.started_at ??= Math.min(s.first_seen, at);
    }
    s.status = st;
    if (st === "completed" && e.progress === undefined && e.kind === "job") s.progress = 100;
  } else if (s.status === "" && e.progress !== undefined) {
    // The first thing we hear of a job is its progress: it is running.
    s.status = "running";
    s.started_at ??= at;
  }
  if (e.progress !== undefined) s.progress = e.progress;
  if (e.stage !== undefined) s.stage = e.stage;
  if (e.message !== undefined) s.message = e.message;
  if (e.error !== undefined) s.error = e.error;
  if (e.counts !== undefined) s.counts = e.counts;
}

/** `EntityState::duration_ms`. */
export function durationMs(s: EntityState, now: number): number | undefined {
  if (s.started_at === undefined) return undefined;
  return Math.max(0, (s.finished_at ?? now) - s.started_at);
}
