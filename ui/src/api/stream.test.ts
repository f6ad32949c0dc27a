import { describe, expect, it } from "vitest";
import { EventStore } from "../store/store";
import { FrameBatcher, type FrameClock } from "../store/frames";
import { ev } from "../store/testing";
import type { TelltaleEvent } from "./types";
import { decodeEvent, decodeEvents, LiveStream, type EventSourceLike } from "./stream";

/** A fake relay: a history of events and EventSources that replay after `since`. */
class FakeRelay {
  history: TelltaleEvent[] = [];
  open: FakeES[] = [];
  /** When set, the relay ignores `since` and replays from this seq (a sloppy relay). */
  replayFrom: number | null = null;

  connect = (url: string): EventSourceLike => {
    const since = Number(new URL(url).searchParams.get("since") ?? "0");
    const es = new FakeES(url);
    this.open.push(es);
    const from = this.replayFrom ?? since;
    queueMicrotask(() => {
      es.onopen?.(new Event("open"));
      for (const e of this.history) if (e.seq > from) es.emit(e);
    });
    return es;
  };

  publish(e: TelltaleEvent): void {
    this.history.push(e);
    for (const es of this.open) if (!es.closed) es.emit(e);
  }

  kill(): void {
    for (const es of this.open) if (!es.closed) es.onerror?.(new Event("error"));
  }
}

class FakeES implements EventSourceLike {
  onopen: ((ev: Event) => unknown) | null = null;
  onmessage: ((ev: MessageEvent<string>) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  addEventListener(): void {}
  close(): void {
    this.closed = true;
  }
  emit(e: TelltaleEvent | string): void {
    if (this.closed) return;
    this.onmessage?.(new MessageEvent("message", { data: typeof e === "string" ? e : JSON.stringify(e) }));
  }
}

const noFrames: FrameClock = { request: () => 0, cancel: () => undefined };
const flushMicrotasks = () => new Promise<void>((r) => setTimeout(r, 0));

function setup() {
  const relay = new FakeRelay();
  const store = new EventStore();
  const batcher = new FrameBatcher<TelltaleEvent>((b) => store.ingest(b), noFrames, 0);
  const invalid: string[] = [];
  const stream = new LiveStream({
    url: (since) => `http://relay/events?since=${since}`,
    open: relay.connect,
    resumeFrom: () => {
      batcher.flush();
      return store.lastSeq;
    },
    onEvent: (e) => batcher.push(e),
    onInvalid: (p) => invalid.push(p),
    backoff: () => 0,
    timers: { set: (fn) => setTimeout(fn, 0), clear: (h) => clearTimeout(h as number) },
  });
  return { relay, store, batcher, stream, invalid };
}

describe("LiveStream resume", () => {
  it("reconnects after a drop with ?since=lastSeq and loses or doubles nothing", async () => {
    const { relay, store, batcher, stream } = setup();
    for (let i = 1; i <= 10; i++) relay.history.push(ev(i, `j${i % 3}`, "running"));
    stream.start();
    await flushMicrotasks();
    batcher.flush();
    expect(store.lastSeq).toBe(10);
    relay.kill();
    // Published while we are disconnected.
    for (let i = 11; i <= 15; i++) relay.history.push(ev(i, `j${i % 3}`, "running"));
    await flushMicrotasks();
    await flushMicrotasks();
    batcher.flush();
    expect(relay.open.at(-1)?.url).toContain("since=10");
    expect(store.lastSeq).toBe(15);
    expect(store.stats.applied).toBe(15);
    expect(store.stats.duplicates).toBe(0);
    stream.stop();
  });

  it("dedupes a relay that replays more than asked", async () => {
    const { relay, store, batcher, stream } = setup();
    for (let i = 1; i <= 5; i++) relay.history.push(ev(i, "j", "running"));
    stream.start();
    await flushMicrotasks();
    batcher.flush();
    relay.replayFrom = 0;
    relay.kill();
    relay.history.push(ev(6, "j", "completed"));
    await flushMicrotasks();
    await flushMicrotasks();
    batcher.flush();
    expect(store.stats.applied).toBe(6);
    expect(store.stats.duplicates).toBe(5);
    expect(store.jobs.get("j")?.state.events).toBe(6);
    stream.stop();
  });

  it("rejects malformed events without stopping", async () => {
    const { relay, store, batcher, stream, invalid } = setup();
    stream.start();
    await flushMicrotasks();
    relay.open[0]?.emit("not json");
    relay.open[0]?.emit(JSON.stringify({ seq: 1 }));
    relay.publish(ev(2, "j", "failed"));
    batcher.flush();
    expect(invalid).toHaveLength(2);
    expect(store.jobs.get("j")?.state.status).toBe("failed");
    stream.stop();
  });
});

describe("deferred decoding (onData) with a per-frame budget", () => {
  it("decodeEvent parses and checks one message", () => {
    const e = ev(3, "j", "running");
    expect(decodeEvent(JSON.stringify(e))).toEqual(e);
    expect(decodeEvent("not json")).toBe("event data is not JSON");
    expect(decodeEvent(JSON.stringify({ seq: 1 }))).toMatch(/missing/);
  });

  it("decodeEvents keeps the order and reports the bad ones", () => {
    const bad: string[] = [];
    const out = decodeEvents([JSON.stringify(ev(1, "a", "queued")), "{", JSON.stringify(ev(2, "b", "running"))], (p) => bad.push(p));
    expect(out.map((e) => e.seq)).toEqual([1, 2]);
    expect(bad).toEqual(["event data is not JSON"]);
  });

  /** The app's wiring (app/live.ts): raw data → batcher with a budget → decode → store. */
  function budgeted(maxPerFrame: number) {
    const relay = new FakeRelay();
    const store = new EventStore();
    let frames: (() => void)[] = [];
    const clock: FrameClock = {
      request: (cb) => frames.push(cb),
      cancel: () => undefined,
    };
    const tick = () => {
      const run = frames;
      frames = [];
      for (const f of run) f();
    };
    const invalid: string[] = [];
    const batches: number[] = [];
    const batcher = new FrameBatcher<string>(
      (b) => {
        batches.push(b.length);
        store.ingest(decodeEvents(b, (p) => invalid.push(p)));
      },
      clock,
      0,
      maxPerFrame,
    );
    const parsed: TelltaleEvent[] = [];
    const stream = new LiveStream({
      url: (since) => `http://relay/events?since=${since}`,
      open: relay.connect,
      resumeFrom: () => {
        batcher.flush();
        return store.lastSeq;
      },
      onEvent: (e) => parsed.push(e),
      onData: (d) => batcher.push(d),
      onInvalid: (p) => invalid.push(p),
      backoff: () => 0,
      timers: { set: (fn) => setTimeout(fn, 0), clear: (h) => clearTimeout(h as number) },
    });
    return { relay, store, batcher, stream, tick, invalid, batches, parsed };
  }

  it("a burst is folded over several frames, in seq order, nothing parsed in the message handler", async () => {
    const { relay, store, stream, tick, batches, parsed, invalid } = budgeted(100);
    for (let i = 1; i <= 450; i++) relay.history.push(ev(i, `j${i % 7}`, i % 50 === 0 ? "failed" : "running"));
    stream.start();
    await flushMicrotasks();
    relay.open[0]?.emit("not json");
    expect(parsed).toHaveLength(0);
    expect(store.lastSeq).toBe(0);
    tick();
    expect(store.lastSeq).toBe(100);
    while (batches.reduce((a, b) => a + b, 0) < 451) tick();
    expect(batches).toEqual([100, 100, 100, 100, 51]);
    expect(store.lastSeq).toBe(450);
    expect(store.stats.applied).toBe(450);
    expect(store.stats.duplicates).toBe(0);
    expect(invalid).toEqual(["event data is not JSON"]);
    stream.stop();
  });

  it("a drop during a carry-over resumes after everything received: nothing lost or doubled", async () => {
    const { relay, store, stream, tick } = budgeted(10);
    for (let i = 1; i <= 35; i++) relay.history.push(ev(i, `j${i % 3}`, "running"));
    stream.start();
    await flushMicrotasks();
    tick(); // 10 folded, 25 carried
    expect(store.lastSeq).toBe(10);
    relay.kill();
    for (let i = 36; i <= 40; i++) relay.history.push(ev(i, `j${i % 3}`, "completed"));
    await flushMicrotasks();
    await flushMicrotasks();
    // The reconnect flushed the carried events first, so it resumed after 35, not 10.
    expect(relay.open.at(-1)?.url).toContain("since=35");
    for (let f = 0; f < 5; f++) tick();
    expect(store.lastSeq).toBe(40);
    expect(store.stats.applied).toBe(40);
    expect(store.stats.duplicates).toBe(0);
    stream.stop();
  });
});
