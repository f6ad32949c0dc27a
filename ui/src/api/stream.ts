// The live stream: one EventSource on `/events`, resumed after every drop from the
// last seq the store applied (`?since=`), with backoff. The browser's own reconnect
// is not relied on: it gives up for good on any non-200 answer (a relay restarting
// answers nothing, then 200 again), and it cannot tell us to re-read the snapshot.

import { event as eventChecker } from "./guards";
import type { TelltaleEvent } from "./types";

/** The part of EventSource we use, so tests can drive a fake one. */
export interface EventSourceLike {
  onopen: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent<string>) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, fn: (ev: MessageEvent<string>) => void): void;
  close(): void;
}

export type LinkState = "connecting" | "live" | "down";

export interface StreamOptions {
  /** URL of `/events` resuming after `since`. */
  url: (since: number) => string;
  open?: (url: string) => EventSourceLike;
  /** The seq to resume after; called at every (re)connect. */
  resumeFrom: () => number;
  /** Each valid event, parsed (unless `onData` is set). */
  onEvent?: (e: TelltaleEvent) => void;
  /**
   * When set, each message's data is handed over as it came, not parsed: the caller
   * decodes it later with `decodeEvents` (inside its per-frame budget), so a network
   * chunk holding hundreds of events costs no parsing in the EventSource's task.
   * `onEvent` is then not called.
   */
  onData?: (data: string) => void;
  onState?: (s: LinkState, attempt: number) => void;
  /** Called after a drop, before reconnecting; may reload snapshots (see app). */
  beforeReconnect?: () => Promise<void>;
  onInvalid?: (problem: string) => void;
  backoff?: (attempt: number) => number;
  timers?: { set: (fn: () => void, ms: number) => unknown; clear: (h: unknown) => void };
}

/** One SSE message's data as an event, or what is wrong with it. */
export function decodeEvent(data: string): TelltaleEvent | string {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return "event data is not JSON";
  }
  const problem = eventChecker(v, "event");
  return problem ?? (v as TelltaleEvent);
}

/** Decodes a batch of message data (see `onData`), in order; bad ones go to `onInvalid`. */
export function decodeEvents(batch: readonly string[], onInvalid?: (problem: string) => void): TelltaleEvent[] {
  const out: TelltaleEvent[] = [];
  for (const data of batch) {
    const d = decodeEvent(data);
    if (typeof d === "string") onInvalid?.(d);
    else out.push(d);
  }
  return out;
}

export const defaultBackoff = (attempt: number): number => Math.min(5_000, 250 * 2 ** Math.min(attempt, 5));

export class LiveStream {
  private es: EventSourceLike | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private stopped = true;
  state: LinkState = "connecting";
  /** Number of connections opened (for tests and the status bar). */
  connections = 0;

  constructor(private readonly o: StreamOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.es?.close();
    this.es = null;
    if (this.timer !== null) (this.o.timers?.clear ?? ((h) => clearTimeout(h as number)))(this.timer);
    this.timer = null;
  }

  /** Drops the connection and reconnects now (after a snapshot reload, for example). */
  restart(): void {
    this.es?.close();
    this.es = null;
    this.connect();
  }

  private setState(s: LinkState): void {
    this.state = s;
    this.o.onState?.(s, this.attempt);
  }

  private connect(): void {
    if (this.stopped) return;
    const open: (u: string) => EventSourceLike = this.o.open ?? ((u: string) => new EventSource(u));
    const es = open(this.o.url(this.o.resumeFrom()));
    this.es = es;
    this.connections++;
    if (this.attempt === 0) this.setState("connecting");
    es.onopen = () => {
      if (this.es !== es) return;
      this.attempt = 0;
      this.setState("live");
    };
    es.onmessage = (m) => {
      if (this.es !== es) return;
      if (this.o.onData) {
        this.o.onData(m.data);
        return;
      }
      const d = decodeEvent(m.data);
      if (typeof d === "string") this.o.onInvalid?.(d);
      else this.o.onEvent?.(d);
    };
    // The relay ends a stream it cannot continue with `event: relay_error`.
    es.addEventListener("relay_error", () => {
      if (this.es === es) this.drop();
    });
    es.onerror = () => {
      if (this.es === es) this.drop();
    };
  }

  private drop(): void {
    this.es?.close();
    this.es = null;
    this.attempt++;
    this.setState("down");
    const delay = (this.o.backoff ?? defaultBackoff)(this.attempt);
    const set = this.o.timers?.set ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
    this.timer = set(() => {
      this.timer = null;
      const before = this.o.beforeReconnect?.() ?? Promise.resolve();
      before.then(
        () => this.connect(),
        () => this.drop(),
      );
    }, delay);
  }
}
