// Wires the relay to the store: snapshot first, then the stream from the snapshot's
// seq, coalesced per animation frame; watches the link and the sources' health.

import { signal } from "@preact/signals";
import { ApiError, RelayClient } from "../api/client";
import { parse } from "../api/guards";
import { decodeEvents, LiveStream, type LinkState } from "../api/stream";
import type { EntityState, HealthResponse, SourceRow } from "../api/types";
import { FrameBatcher } from "../store/frames";
import { EventStore, type ChangeSet } from "../store/store";

/** Jobs read at start-up (pages of 1,000, newest first). */
const SNAPSHOT_JOBS = 100_000;
const PAGE = 1_000;
/**
 * The per-frame work budget: events decoded, checked and folded in one animation frame
 * at most (a few ms of work); a burst beyond it (a network chunk of hundreds of events,
 * a reconnect catching up) is carried over to the next frames: 60,000 events/s at 60 fps.
 */
export const MAX_EVENTS_PER_FRAME = 1_000;
const SLOW_FLUSH_MS = 8;

export interface FlushTime {
  /** performance.now() when the flush began. */
  at: number;
  ms: number;
  events: number;
}

export type Banner =
  | { kind: "ok" }
  | { kind: "connecting" }
  | { kind: "down"; since: number; attempt: number; message: string }
  | { kind: "auth"; message: string };

export class Live {
  readonly store = new EventStore({ maxJobs: SNAPSHOT_JOBS });
  /** The stream's messages, undecoded: parsed, checked and folded per frame, within the budget. */
  readonly batcher: FrameBatcher<string>;
  readonly stream: LiveStream;
  /** Bumped once per applied frame: views read it to re-render. */
  readonly version = signal(0);
  readonly banner = signal<Banner>({ kind: "connecting" });
  readonly sources = signal<SourceRow[]>([]);
  readonly health = signal<HealthResponse | null>(null);
  /** True once the first snapshot is in. */
  readonly ready = signal(false);
  readonly lastChange = signal<ChangeSet | null>(null);
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  /** When set (by the frame probe), each flush's time is recorded in `flushTimes`. */
  timing = false;
  readonly flushTimes: FlushTime[] = [];

  constructor(readonly client: RelayClient) {
    this.batcher = new FrameBatcher((b) => this.flush(b), undefined, undefined, MAX_EVENTS_PER_FRAME);
    this.store.subscribe((c) => {
      this.lastChange.value = c;
      this.version.value++;
    });
    this.stream = new LiveStream({
      url: (since) => client.eventsUrl(since),
      resumeFrom: () => {
        this.batcher.flush();
        return this.store.lastSeq;
      },
      onData: (d) => this.batcher.push(d),
      onState: (s, attempt) => this.onLink(s, attempt),
      beforeReconnect: () => this.checkBeforeResume(),
      onInvalid: (p) => this.invalid(p),
    });
  }

  private invalid(problem: string): void {
    this.store.stats.invalid++;
    console.warn(`telltale: ignored an event: ${problem}`);
  }

  /** Decodes one frame's messages and folds them into the store (and so the views). */
  private flush(batch: string[]): void {
    if (!this.timing) {
      this.store.ingest(decodeEvents(batch, (p) => this.invalid(p)));
      return;
    }
    const t0 = performance.now();
    this.store.ingest(decodeEvents(batch, (p) => this.invalid(p)));
    const ms = performance.now() - t0;
    this.flushTimes.push({ at: t0, ms, events: batch.length });
    // Slow ones also show in the browser's performance timeline (devtools, the e2e report).
    if (ms > SLOW_FLUSH_MS) performance.measure(`telltale:flush ${batch.length} events`, { start: t0, end: t0 + ms });
  }

  async start(): Promise<void> {
    try {
      await this.loadSnapshot();
    } catch (e) {
      this.fail(e);
      // The stream's reconnect loop retries the snapshot (beforeReconnect).
    }
    this.stream.start();
    void this.pollSources();
    this.pollTimer = setInterval(() => void this.pollSources(), 2_000);
  }

  stop(): void {
    this.stream.stop();
    this.batcher.dispose();
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
  }

  private onLink(s: LinkState, attempt: number): void {
    if (s === "live") {
      if (this.banner.value.kind !== "auth") this.banner.value = { kind: "ok" };
    } else if (s === "down") {
      const cur = this.banner.value;
      if (cur.kind === "auth") return;
      this.banner.value = {
        kind: "down",
        since: cur.kind === "down" ? cur.since : Date.now(),
        attempt,
        message: cur.kind === "down" ? cur.message : "the live stream was interrupted",
      };
    }
  }

  private fail(e: unknown): void {
    if (e instanceof ApiError && (e.code === "token_invalid" || e.code === "token_missing")) {
      this.banner.value = { kind: "auth", message: e.message };
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    const cur = this.banner.value;
    this.banner.value = { kind: "down", since: cur.kind === "down" ? cur.since : Date.now(), attempt: 0, message };
  }

  /**
   * Before resuming after a drop: is the relay back, and is it the same history? A
   * relay whose newest seq is below ours has a different database: start over.
   */
  private async checkBeforeResume(): Promise<void> {
    let h: HealthResponse;
    try {
      h = await this.client.get("/api/health", parse.health);
    } catch (e) {
      this.fail(e);
      throw e;
    }
    this.health.value = h;
    this.batcher.flush();
    if (h.hub.last_seq < this.store.lastSeq) {
      this.store.reset();
      await this.loadSnapshot();
    } else if (!this.ready.value) {
      await this.loadSnapshot();
    }
  }

  /** Reads the board (jobs, workers, queues) and sets the resume point. */
  async loadSnapshot(): Promise<void> {
    const states: EntityState[] = [];
    const first = await this.client.get("/api/jobs", parse.jobsPage, { sort: "first_seen", order: "desc", limit: PAGE, offset: 0 });
    // Everything after this seq comes from the stream; pages read later may be newer
    // still, which the store's per-entity seq check handles.
    const readAt = first.last_seq;
    states.push(...first.items);
    let offset = first.items.length;
    while (offset < Math.min(first.total, SNAPSHOT_JOBS)) {
      const page = await this.client.get("/api/jobs", parse.jobsPage, { sort: "first_seen", order: "desc", limit: PAGE, offset });
      if (page.items.length === 0) break;
      states.push(...page.items);
      offset += page.items.length;
    }
    const [workers, queues] = await Promise.all([
      this.client.get("/api/workers", parse.workers),
      this.client.get("/api/queues", parse.queues),
    ]);
    states.push(...workers.items);
    for (const q of queues.items) if (q.state) states.push(q.state);
    this.store.loadSnapshot(
      states.map(({ ...s }) => {
        delete (s as { duration_ms?: number }).duration_ms;
        return s;
      }),
      readAt,
    );
    this.ready.value = true;
  }

  async pollSources(): Promise<void> {
    try {
      const [s, h] = await Promise.all([
        this.client.get("/api/sources", parse.sources),
        // Health carries the history's write errors (disk full) for the banner.
        this.client.get("/api/health", parse.health),
      ]);
      this.sources.value = s.items;
      this.health.value = h;
    } catch (e) {
      if (e instanceof ApiError && e.code === "unreachable") this.fail(e);
    }
  }
}

/** Subscribes the calling component to every applied frame. */
export function useLiveVersion(live: Live): number {
  return live.version.value;
}
