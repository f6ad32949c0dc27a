// The event store: the UI's single source of truth for live data.
//
// - Events are applied in seq order; a batch is sorted first.
// - Dedupe: anything at or below the high-water mark `lastSeq` was applied already
//   (the relay sends one ordered stream per connection, and we resume with
//   `?since=lastSeq`); a snapshot state that already covers an event (its `last_seq`
//   is at or past the event's seq) is not folded again.
// - Latest state per entity is derived with the same fold as the Rust board.
// - Memory is bounded: past `maxJobs`, the oldest jobs (by first seen) are evicted in
//   blocks, so eviction is rare and cheap.
// Pure TS, no DOM: the frame scheduler and the views sit on top.

import type { EntityState, TelltaleEvent } from "../api/types";
import { applyEvent, firstState } from "./reduce";

/** One job on the board, with its stable position in "first seen" order. */
export interface JobEntry {
  state: EntityState;
  /** Tie-breaker for equal `first_seen`: insertion order. */
  ord: number;
  /** Set when evicted, so views holding it can drop it. */
  evicted?: boolean;
}

export interface ChangeSet {
  /** Events applied, in seq order (duplicates excluded). */
  events: TelltaleEvent[];
  /** Jobs created or changed by this batch. */
  jobs: Set<JobEntry>;
  /** Jobs created by this batch (a subset of `jobs`). */
  added: number;
  /** Jobs evicted to stay under the cap. */
  evicted: number;
  /** Queues, workers or sources changed. */
  others: boolean;
  /** True after a snapshot load or reset: derived views must rebuild. */
  reset: boolean;
}

export interface StoreOptions {
  /** Jobs kept in memory; the oldest beyond this are evicted. */
  maxJobs?: number;
  /** Workers and queues kept (each). */
  maxOthers?: number;
}

export interface StoreStats {
  applied: number;
  duplicates: number;
  evicted: number;
  invalid: number;
}

const MINUTE = 60_000;
/** Per-source minute buckets kept for the sparkline. */
export const RATE_MINUTES = 60;

export function compareEntries(a: JobEntry, b: JobEntry): number {
  return a.state.first_seen - b.state.first_seen || a.ord - b.ord;
}

/** Index of the first element not less than `x` in a sorted array. */
export function lowerBound(arr: readonly JobEntry[], x: JobEntry): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = arr[mid];
    if (m !== undefined && compareEntries(m, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `x` keeping `arr` sorted; appending (the usual case) is O(1). */
export function insertSorted(arr: JobEntry[], x: JobEntry): void {
  const last = arr[arr.length - 1];
  if (last === undefined || compareEntries(last, x) <= 0) {
    arr.push(x);
    return;
  }
  arr.splice(lowerBound(arr, x), 0, x);
}

/** Removes `x` from sorted `arr` if present. */
export function removeSorted(arr: JobEntry[], x: JobEntry): boolean {
  const i = lowerBound(arr, x);
  if (arr[i] === x) {
    arr.splice(i, 1);
    return true;
  }
  // Equal keys cannot happen (ord is unique), but be safe.
  const j = arr.indexOf(x);
  if (j >= 0) {
    arr.splice(j, 1);
    return true;
  }
  return false;
}

export class EventStore {
  /** Highest seq applied; the stream resumes after it. */
  lastSeq = 0;
  readonly jobs = new Map<string, JobEntry>();
  /** Every job, oldest first seen first. */
  readonly order: JobEntry[] = [];
  readonly queues = new Map<string, EntityState>();
  readonly workers = new Map<string, EntityState>();
  /** Each source's latest notice (connected, reconnecting, gap, stopped). */
  readonly sourceNotices = new Map<string, EntityState>();
  /** Jobs by status. */
  readonly statusCounts = new Map<string, number>();
  /** Events per source per minute (live only): source -> minute index -> count. */
  readonly rates = new Map<string, Map<number, number>>();
  /** Last live event per source (received_at). */
  readonly lastEventAt = new Map<string, number>();
  readonly stats: StoreStats = { applied: 0, duplicates: 0, evicted: 0, invalid: 0 };
  /** Bumped on every change, for cheap "did anything change" checks. */
  version = 0;

  private nextOrd = 0;
  readonly maxJobs: number;
  readonly maxOthers: number;
  private readonly listeners = new Set<(c: ChangeSet) => void>();

  constructor(opts: StoreOptions = {}) {
    this.maxJobs = opts.maxJobs ?? 100_000;
    this.maxOthers = opts.maxOthers ?? 10_000;
  }

  subscribe(fn: (c: ChangeSet) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: ChangeSet): void {
    this.version++;
    for (const fn of this.listeners) fn(c);
  }

  get jobCount(): number {
    return this.jobs.size;
  }

  private bumpStatus(status: string, by: number): void {
    const n = (this.statusCounts.get(status) ?? 0) + by;
    if (n === 0) this.statusCounts.delete(status);
    else this.statusCounts.set(status, n);
  }

  /** Forgets everything (the relay's history was replaced: its seq went backwards). */
  reset(): void {
    this.lastSeq = 0;
    this.jobs.clear();
    this.order.length = 0;
    this.queues.clear();
    this.workers.clear();
    this.sourceNotices.clear();
    this.statusCounts.clear();
    this.rates.clear();
    this.lastEventAt.clear();
    this.emit(emptyChanges(true));
  }

  /**
   * Merges board states read from `/api/jobs`, `/api/workers`, `/api/queues`, with
   * the seq they were read at. A state replaces ours only if it is newer. Call before
   * opening the stream with `since = lastSeq`.
   */
  loadSnapshot(states: readonly EntityState[], readAtSeq: number): void {
    for (const s of states) this.mergeState(s);
    this.order.sort(compareEntries);
    this.lastSeq = Math.max(this.lastSeq, readAtSeq);
    this.evictIfNeeded();
    this.emit(emptyChanges(true));
  }

  private mergeState(incoming: EntityState): void {
    const s = { ...incoming };
    switch (s.kind) {
      case "job": {
        const cur = this.jobs.get(s.entity);
        if (cur === undefined) {
          const entry: JobEntry = { state: s, ord: this.nextOrd++ };
          this.jobs.set(s.entity, entry);
          this.order.push(entry);
          this.bumpStatus(s.status, 1);
        } else if (s.last_seq > cur.state.last_seq) {
          this.bumpStatus(cur.state.status, -1);
          this.bumpStatus(s.status, 1);
          cur.state = s;
        }
        return;
      }
      case "queue":
        mergeInto(this.queues, s);
        return;
      case "worker":
        mergeInto(this.workers, s);
        return;
      case "source":
        mergeInto(this.sourceNotices, s);
        return;
    }
  }

  /** Applies a batch of live events; returns (and emits) what changed. */
  ingest(batch: readonly TelltaleEvent[]): ChangeSet {
    const changes = emptyChanges(false);
    if (batch.length === 0) return changes;
    const sorted = isSortedBySeq(batch) ? batch : [...batch].sort((a, b) => a.seq - b.seq);
    for (const e of sorted) {
      if (e.seq <= this.lastSeq) {
        this.stats.duplicates++;
        continue;
      }
      this.lastSeq = e.seq;
      this.stats.applied++;
      changes.events.push(e);
      this.countRate(e);
      switch (e.kind) {
        case "job":
          this.applyJob(e, changes);
          break;
        case "queue":
          changes.others = applyOther(this.queues, e) || changes.others;
          break;
        case "worker":
          changes.others = applyOther(this.workers, e) || changes.others;
          break;
        case "source":
          changes.others = applyOther(this.sourceNotices, e) || changes.others;
          break;
      }
    }
    changes.evicted = this.evictIfNeeded();
    this.trimOthers();
    if (changes.events.length > 0 || changes.evicted > 0) this.emit(changes);
    return changes;
  }

  private applyJob(e: TelltaleEvent, changes: ChangeSet): void {
    let entry = this.jobs.get(e.entity);
    if (entry === undefined) {
      entry = { state: firstState(e), ord: this.nextOrd++ };
      this.jobs.set(e.entity, entry);
      insertSorted(this.order, entry);
      this.bumpStatus(entry.state.status, 1);
      changes.added++;
    } else if (entry.state.last_seq >= e.seq) {
      // The snapshot we loaded already folded this event in.
      return;
    }
    const before = entry.state.status;
    applyEvent(entry.state, e);
    if (entry.state.status !== before) {
      this.bumpStatus(before, -1);
      this.bumpStatus(entry.state.status, 1);
    }
    changes.jobs.add(entry);
  }

  private countRate(e: TelltaleEvent): void {
    const minute = Math.floor(e.received_at / MINUTE);
    let m = this.rates.get(e.source);
    if (m === undefined) {
      m = new Map();
      this.rates.set(e.source, m);
    }
    m.set(minute, (m.get(minute) ?? 0) + 1);
    if (m.size > RATE_MINUTES + 5) {
      const cutoff = minute - RATE_MINUTES;
      for (const k of m.keys()) if (k < cutoff) m.delete(k);
    }
    const prev = this.lastEventAt.get(e.source) ?? 0;
    if (e.received_at > prev) this.lastEventAt.set(e.source, e.received_at);
  }

  /** Evicts the oldest jobs once the cap is passed by a block (1% of the cap). */
  private evictIfNeeded(): number {
    const slack = Math.max(1, Math.floor(this.maxJobs / 100));
    if (this.order.length < this.maxJobs + slack) return 0;
    const n = this.order.length - this.maxJobs;
    const gone = this.order.splice(0, n);
    for (const g of gone) {
      g.evicted = true;
      this.jobs.delete(g.state.entity);
      this.bumpStatus(g.state.status, -1);
    }
    this.stats.evicted += n;
    return n;
  }

  private trimOthers(): void {
    for (const m of [this.queues, this.workers]) {
      if (m.size <= this.maxOthers) continue;
      const byAge = [...m.values()].sort((a, b) => a.last_seen - b.last_seen);
      for (const s of byAge.slice(0, m.size - this.maxOthers)) m.delete(s.entity);
    }
  }

  /** Events per minute for one source, oldest first, `minutes` buckets ending at `now`. */
  rateSeries(source: string, now: number, minutes = RATE_MINUTES): number[] {
    const m = this.rates.get(source);
    const end = Math.floor(now / MINUTE);
    const out: number[] = [];
    for (let i = end - minutes + 1; i <= end; i++) out.push(m?.get(i) ?? 0);
    return out;
  }

  /** Completed and failed jobs per minute over the last `minutes`, from job states. */
  throughput(now: number, minutes = 60): { completed: number[]; failed: number[]; start: number } {
    const end = Math.floor(now / MINUTE);
    const start = end - minutes + 1;
    const completed = new Array<number>(minutes).fill(0);
    const failed = new Array<number>(minutes).fill(0);
    for (const { state } of this.order) {
      const f = state.finished_at;
      if (f === undefined) continue;
      const i = Math.floor(f / MINUTE) - start;
      if (i < 0 || i >= minutes) continue;
      if (state.status === "completed") completed[i] = (completed[i] ?? 0) + 1;
      else if (state.status === "failed") failed[i] = (failed[i] ?? 0) + 1;
    }
    return { completed, failed, start: start * MINUTE };
  }

  /** Jobs that are failed now and failed within `windowMs` of `now`. */
  failedSince(now: number, windowMs = 3_600_000): number {
    let n = 0;
    const from = now - windowMs;
    for (const { state } of this.order) {
      if (state.status === "failed" && (state.finished_at ?? state.last_seen) >= from) n++;
    }
    return n;
  }
}

function emptyChanges(reset: boolean): ChangeSet {
  return { events: [], jobs: new Set(), added: 0, evicted: 0, others: reset, reset };
}

function isSortedBySeq(b: readonly TelltaleEvent[]): boolean {
  for (let i = 1; i < b.length; i++) {
    const prev = b[i - 1];
    const cur = b[i];
    if (prev !== undefined && cur !== undefined && cur.seq < prev.seq) return false;
  }
  return true;
}

function mergeInto(m: Map<string, EntityState>, s: EntityState): void {
  const cur = m.get(s.entity);
  if (cur === undefined || s.last_seq > cur.last_seq) m.set(s.entity, s);
}

function applyOther(m: Map<string, EntityState>, e: TelltaleEvent): boolean {
  let s = m.get(e.entity);
  if (s === undefined) {
    s = firstState(e);
    m.set(e.entity, s);
  } else if (s.last_seq >= e.seq) {
    return false;
  }
  applyEvent(s, e);
  return true;
}
